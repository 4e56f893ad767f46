//! Pure check functions for the codes that hazardous-chemical records carry.
//!
//! Each function takes the text exactly as it would be stored in a handle value and either
//! accepts it (returning the parsed form where one is useful) or says why not with a
//! [`CodeError`]. None of them trims, folds case or otherwise repairs the input: a value that is
//! stored is the value that was checked. None of them panics, whatever the input (see the
//! property tests).

use std::sync::LazyLock;

use regex::Regex;
use thiserror::Error;

use crate::date::Date;

/// Why a code was rejected. The messages are English and short; [`crate::Violation`] puts the
/// item's Chinese name in front of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CodeError {
    /// The text does not have the shape the standard prescribes; the text says which shape.
    #[error("{0}")]
    Format(&'static str),
    /// The check digit or check character does not match the rest of the code.
    #[error("check digit does not match")]
    CheckDigit,
    /// The text is well formed but a component is not an allowed value; the text says which.
    #[error("{0}")]
    Value(&'static str),
}

/// Checks a CAS Registry Number: `N{2,7}-NN-N`, first group without a leading zero, and the
/// check digit.
///
/// CAS Registry Number check digit (CAS, "Check Digit Verification of CAS Registry Numbers"):
/// counting the digits before the check digit from the right, starting at 1, the check digit is
/// Σ(position × digit) mod 10. For acetone, `67-64-1`: 4×1 + 6×2 + 7×3 + 6×4 = 61, so 1.
///
/// The weighted sum mod 10 does not catch every single-digit error: changing a digit by `d`
/// where position × `d` is a multiple of 10 (position 5 and an even `d`, position 10, or an even
/// position and `d` = 5) leaves the check digit unchanged. That is a property of the standard.
pub fn cas(text: &str) -> Result<(), CodeError> {
    const SHAPE: &str = "expected a CAS number NNNNNNN-NN-N (2 to 7, 2 and 1 digits)";
    let mut parts = text.split('-');
    let (Some(first), Some(second), Some(check), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CodeError::Format(SHAPE));
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(2..=7).contains(&first.len())
        || second.len() != 2
        || check.len() != 1
        || !all_digits(first)
        || !all_digits(second)
        || !all_digits(check)
    {
        return Err(CodeError::Format(SHAPE));
    }
    if first.starts_with('0') {
        return Err(CodeError::Format(
            "the first group of a CAS number has no leading zero",
        ));
    }
    let sum: u32 = first
        .bytes()
        .chain(second.bytes())
        .rev()
        .zip(1u32..)
        .map(|(digit, position)| u32::from(digit - b'0') * position)
        .sum();
    if sum % 10 != u32::from(check.as_bytes()[0] - b'0') {
        return Err(CodeError::CheckDigit);
    }
    Ok(())
}

/// The 31 characters of a unified social credit code, in the order of their values 0 to 30
/// (GB 32100-2015 §4.1: digits and upper-case Latin letters without I, O, S, V and Z).
pub const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The weights of positions 1 to 17 of a unified social credit code (GB 32100-2015 §5,
/// Table 3): 3^(i−1) mod 31.
pub const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Checks a unified social credit code (统一社会信用代码, GB 32100-2015).
///
/// The code has 18 characters from [`USCC_ALPHABET`] (upper case only):
/// position 1 is the registration authority (登记管理部门代码), position 2 the organisation
/// category (机构类别代码), positions 3–8 the administrative division of the registering
/// authority (登记管理机关行政区划码, GB/T 2260), positions 9–17 the subject identifier
/// (主体标识码, the GB 11714 organisation code), and position 18 the check character.
///
/// Check character (GB 32100-2015 §5, using ISO 7064 MOD 31-3 style weights):
/// C18 = 31 − (Σ Cᵢ × Wᵢ mod 31), where a result of 31 is written `0`. Because 31 is prime and
/// no weight is a multiple of 31, every single-character substitution changes the sum and is
/// caught.
///
/// Sanity checks beyond the check character:
/// * the authority and category pair is one that has been allocated: GB 32100-2015 Table 1
///   defines `1` 机构编制 (categories 1 机关, 2 事业单位, 3 群众团体, 9 其他), `5` 民政
///   (1 社会团体, 2 民办非企业单位, 3 基金会, 9 其他), `9` 工商 (1 企业, 2 个体工商户,
///   3 农民专业合作社) and `Y` 其他 (1); the code's administrators later allocated `2` 外交,
///   `3` 司法行政, `4` 文化, `6` 旅游, `7` 宗教, `8` 工会, `A` 中央军委改革和编制办公室 and
///   `N` 农业, which are accepted with categories 1–5 and 9;
/// * the division code is six digits with a known province prefix ([`region`]), or `100000`,
///   which national-level authorities use.
///
/// The GB 11714 check of the embedded organisation code ([`organization_code`]) is not applied
/// here, because the standard does not require it of the USCC as a whole.
pub fn uscc(text: &str) -> Result<(), CodeError> {
    let bytes = text.as_bytes();
    if bytes.len() != 18 {
        return Err(CodeError::Format(
            "expected 18 characters for a unified social credit code",
        ));
    }
    let mut values = [0u32; 18];
    for (value, &byte) in values.iter_mut().zip(bytes) {
        let Some(position) = USCC_ALPHABET.iter().position(|&c| c == byte) else {
            return Err(CodeError::Format(
                "a unified social credit code uses only 0-9 and upper-case A-Y without I, O, S, V, Z",
            ));
        };
        // The alphabet has 31 entries, so the position fits a u32.
        *value = position as u32;
    }
    let category_ok = match (bytes[0], bytes[1]) {
        (b'1', c) => matches!(c, b'1' | b'2' | b'3' | b'9'),
        (b'5', c) => matches!(c, b'1' | b'2' | b'3' | b'9'),
        (b'9', c) => matches!(c, b'1' | b'2' | b'3'),
        (b'Y', c) => c == b'1',
        (b'2' | b'3' | b'4' | b'6' | b'7' | b'8' | b'A' | b'N', c) => {
            matches!(c, b'1'..=b'5' | b'9')
        }
        _ => {
            return Err(CodeError::Value(
                "unknown registration authority code (position 1)",
            ));
        }
    };
    if !category_ok {
        return Err(CodeError::Value(
            "organisation category (position 2) is not allocated for this registration authority",
        ));
    }
    let division = &text[2..8];
    if division != "100000" && region(division).is_err() {
        return Err(CodeError::Value(
            "positions 3-8 are not a GB/T 2260 division code",
        ));
    }
    let sum: u32 = values[..17]
        .iter()
        .zip(USCC_WEIGHTS)
        .map(|(value, weight)| value * weight)
        .sum();
    let expected = (31 - sum % 31) % 31;
    if values[17] != expected {
        return Err(CodeError::CheckDigit);
    }
    Ok(())
}

/// Checks an organisation code (组织机构代码, GB 11714-1997): eight characters from `0-9A-Z`
/// followed by a check character, optionally written with a hyphen before it (`70846113-6`).
///
/// Check character (GB 11714-1997 §5): with character values `0`–`9` = 0–9 and `A`–`Z` = 10–35
/// and weights 3, 7, 9, 10, 5, 8, 4, 2, C9 = 11 − (Σ Cᵢ × Wᵢ mod 11); 10 is written `X` and 11
/// is written `0`. This is the subject identifier inside a USCC (positions 9–17).
pub fn organization_code(text: &str) -> Result<(), CodeError> {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let compact: Vec<u8> = match text.as_bytes() {
        [body @ .., b'-', check] if body.len() == 8 => {
            body.iter().chain([check]).copied().collect()
        }
        bytes => bytes.to_vec(),
    };
    if compact.len() != 9 {
        return Err(CodeError::Format(
            "expected an organisation code of 9 characters",
        ));
    }
    let value = |b: u8| match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'A'..=b'Z' => Some(u32::from(b - b'A') + 10),
        _ => None,
    };
    let mut sum = 0;
    for (&byte, weight) in compact[..8].iter().zip(WEIGHTS) {
        let Some(v) = value(byte) else {
            return Err(CodeError::Format(
                "an organisation code uses only 0-9 and upper-case A-Z",
            ));
        };
        sum += v * weight;
    }
    let expected = match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        // The arm is reached only for 1..=9, which are single digits.
        n => b'0' + n as u8,
    };
    if compact[8] != expected {
        return Err(CodeError::CheckDigit);
    }
    Ok(())
}

/// Checks a UN number (联合国编号, UN Model Regulations, Recommendations on the Transport of
/// Dangerous Goods, chapter 3.2 Dangerous Goods List) and returns it as an integer.
///
/// Accepted forms: four digits (`1090`), or `UN` followed by four digits with or without one
/// space (`UN1090`, `UN 1090`). The number must lie in 0004–3999: UN 0004 is the lowest entry
/// of the list, and numbers from 4000 up are not UN numbers (8000 and 9000 ranges are North
/// American "NA" numbers). The upper bound leaves room for new entries of future editions.
pub fn un_number(text: &str) -> Result<u16, CodeError> {
    let digits = text
        .strip_prefix("UN")
        .map(|rest| rest.strip_prefix(' ').unwrap_or(rest))
        .unwrap_or(text);
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeError::Format(
            "expected a UN number: 4 digits, optionally after UN",
        ));
    }
    let number = digits
        .bytes()
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    if !(4..=3999).contains(&number) {
        return Err(CodeError::Value("a UN number lies between 0004 and 3999"));
    }
    Ok(number)
}

/// Checks a Chinese dangerous-goods number (危规号, 危险货物品名编号 of GB 6944-1986 and
/// GB 12268-1990, still printed on older labels next to the UN number) and returns its class.
///
/// The number has five digits: the class (类, 1–9), the division (项), and a three-digit
/// sequence number that is never `000` (for example `31001`, `61001`, `81013`).
pub fn dangerous_goods_no(text: &str) -> Result<u8, CodeError> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(CodeError::Format(
            "expected a 危规号 of 5 digits (class, division, sequence)",
        ));
    }
    if bytes[0] == b'0' {
        return Err(CodeError::Value(
            "the first digit of a 危规号 is the class, 1 to 9",
        ));
    }
    if &bytes[2..] == b"000" {
        return Err(CodeError::Value(
            "the sequence number of a 危规号 (digits 3-5) is not 000",
        ));
    }
    Ok(bytes[0] - b'0')
}

/// The first two digits of every province-level division of GB/T 2260: 11–15 (North),
/// 21–23 (North-east), 31–37 (East), 41–46 (Central-south), 50–54 (South-west),
/// 61–65 (North-west), 71 Taiwan, 81 Hong Kong and 82 Macao.
pub const PROVINCE_CODES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

/// Checks an administrative division code (行政区划代码, GB/T 2260-2007 and its yearly
/// updates): six digits whose first two name a province-level division in
/// [`PROVINCE_CODES`].
///
/// Positions 3–4 (prefecture) and 5–6 (county) are not looked up: the list changes every year
/// and records keep the code that was valid when they were written.
pub fn region(text: &str) -> Result<(), CodeError> {
    let bytes = text.as_bytes();
    if bytes.len() != 6 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(CodeError::Format(
            "expected a GB/T 2260 division code of 6 digits",
        ));
    }
    if !PROVINCE_CODES.contains(&&text[..2]) {
        return Err(CodeError::Value(
            "the first two digits are not a GB/T 2260 province code",
        ));
    }
    Ok(())
}

/// The sections (门类) of GB/T 4754-2017 with the range of their divisions (大类).
const INDUSTRY_SECTIONS: [(u8, u8, u8); 20] = [
    (b'A', 1, 5),
    (b'B', 6, 12),
    (b'C', 13, 43),
    (b'D', 44, 46),
    (b'E', 47, 50),
    (b'F', 51, 52),
    (b'G', 53, 60),
    (b'H', 61, 62),
    (b'I', 63, 65),
    (b'J', 66, 69),
    (b'K', 70, 70),
    (b'L', 71, 72),
    (b'M', 73, 75),
    (b'N', 76, 79),
    (b'O', 80, 82),
    (b'P', 83, 83),
    (b'Q', 84, 85),
    (b'R', 86, 90),
    (b'S', 91, 96),
    (b'T', 97, 97),
];

/// Checks an industry code of GB/T 4754-2017 (国民经济行业分类) and returns its level: 1 for a
/// section (门类, `C`), 2 for a division (大类, `C26`), 3 for a group (中类, `C261`) and 4 for a
/// class (小类, `C2614`).
///
/// The section letter is A–T, and the two-digit division must belong to that section (C covers
/// divisions 13–43, G covers 53–60, …). Group and class digits are not looked up in the
/// catalogue, except that a group or class digit of `0` would be written as the shorter code and
/// is still accepted, because the catalogue uses it (`K7010`).
pub fn industry_code(text: &str) -> Result<u8, CodeError> {
    const SHAPE: &str =
        "expected a GB/T 4754-2017 code: a section letter A-T and 0, 2, 3 or 4 digits";
    let bytes = text.as_bytes();
    let Some((&section, digits)) = bytes.split_first() else {
        return Err(CodeError::Format(SHAPE));
    };
    if !matches!(digits.len(), 0 | 2 | 3 | 4) || !digits.iter().all(u8::is_ascii_digit) {
        return Err(CodeError::Format(SHAPE));
    }
    let Some(&(_, low, high)) = INDUSTRY_SECTIONS.iter().find(|(s, ..)| *s == section) else {
        return Err(CodeError::Format(SHAPE));
    };
    if let [tens, ones, ..] = digits {
        let division = (tens - b'0') * 10 + (ones - b'0');
        if !(low..=high).contains(&division) {
            return Err(CodeError::Value(
                "the division (digits 1-2) does not belong to the section letter",
            ));
        }
    }
    // At most four digits were accepted above, so the level fits a u8.
    Ok(match digits.len() {
        0 => 1,
        n => n as u8,
    })
}

/// Checks a four-level industry class code of GB/T 4754-2017 (小类, for example `C2614`,
/// `G5942`), the level that SNMS templates and enterprise records carry.
pub fn industry_class(text: &str) -> Result<(), CodeError> {
    match industry_code(text)? {
        4 => Ok(()),
        _ => Err(CodeError::Format(
            "expected a four-level GB/T 4754-2017 class: a letter and 4 digits",
        )),
    }
}

/// The hazard statement codes of the GHS (Globally Harmonized System of Classification and
/// Labelling of Chemicals, Rev. 10, Annex 3 section 1, Table A3.1.1–A3.1.3), as adopted by
/// GB 30000.2–29-2013. The variants `H350i`, `H360F`… are in [`ghs_hazard`].
const GHS_H_CODES: [u16; 82] = [
    200, 201, 202, 203, 204, 205, 206, 207, 208, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229,
    230, 231, 232, 240, 241, 242, 250, 251, 252, 260, 261, 270, 271, 272, 280, 281, 282, 283, 284,
    290, 300, 301, 302, 303, 304, 305, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320, 330,
    331, 332, 333, 334, 335, 336, 340, 341, 350, 351, 360, 361, 362, 370, 371, 372, 373, 400, 401,
    402, 410, 411, 412, 413, 420,
];

/// Checks one GHS hazard statement code (危险说明, GHS Annex 3 section 1; GB 30000.2–29-2013),
/// alone (`H225`) or combined (`H300+H310+H330`, GHS A3.1.3; spaces around `+` are allowed).
///
/// Each part is `H` and a code of the GHS list (physical hazards H2xx, health hazards H3xx,
/// environmental hazards H4xx). The letter suffixes of GHS A3.1.2 are accepted where the list
/// defines them: `H350i`, `H360F`, `H360D`, `H360FD`, `H360Fd`, `H360Df`, `H361f`, `H361d`,
/// `H361fd`. A combined statement has no repeated part. EU `EUH` statements are not GHS codes and
/// are rejected.
pub fn ghs_hazard(text: &str) -> Result<(), CodeError> {
    const SHAPE: &str = "expected a GHS hazard statement code such as H225 or H300+H310";
    let mut seen: Vec<&str> = Vec::new();
    for part in text.split('+') {
        let part = part.trim_matches(' ');
        let Some(rest) = part.strip_prefix('H') else {
            return Err(CodeError::Format(SHAPE));
        };
        let split = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, suffix) = rest.split_at(split);
        if number.len() != 3 {
            return Err(CodeError::Format(SHAPE));
        }
        let code = number
            .bytes()
            .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
        if !GHS_H_CODES.contains(&code) {
            return Err(CodeError::Value("not a GHS hazard statement code"));
        }
        let suffix_ok = match code {
            350 => matches!(suffix, "" | "i"),
            360 => matches!(suffix, "" | "F" | "D" | "FD" | "Fd" | "Df"),
            361 => matches!(suffix, "" | "f" | "d" | "fd"),
            _ => suffix.is_empty(),
        };
        if !suffix_ok {
            return Err(CodeError::Value("not a GHS hazard statement code"));
        }
        if seen.contains(&part) {
            return Err(CodeError::Value(
                "a combined hazard statement repeats a code",
            ));
        }
        seen.push(part);
    }
    Ok(())
}

/// A packing group (包装类别) of the UN Model Regulations §2.0.1.3 and GB 12463: the degree of
/// danger of a substance in transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PackingGroup {
    /// Packing group I: high danger.
    I,
    /// Packing group II: medium danger.
    II,
    /// Packing group III: low danger.
    III,
}

/// Checks a packing group written as the Roman numeral `I`, `II` or `III`.
pub fn packing_group(text: &str) -> Result<PackingGroup, CodeError> {
    match text {
        "I" => Ok(PackingGroup::I),
        "II" => Ok(PackingGroup::II),
        "III" => Ok(PackingGroup::III),
        _ => Err(CodeError::Format("expected a packing group: I, II or III")),
    }
}

/// The pattern of Chinese motor-vehicle plates that [`plate`] accepts.
static PLATE: LazyLock<Regex> = LazyLock::new(|| {
    // The pattern is a constant that the tests compile, so it is known to be valid.
    Regex::new(concat!(
        "^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]",
        "[A-HJ-NP-Z]",
        "(?:",
        // Ordinary plates (GA 36-2018): five characters, the last of which may be a class mark.
        "[A-HJ-NP-Z0-9]{4}[A-HJ-NP-Z0-9挂学警港澳领试超]",
        // Small new-energy plates: an energy letter, a letter or digit, then four digits.
        "|[A-HJK][A-HJ-NP-Z0-9][0-9]{4}",
        // Large new-energy plates: five digits, then the energy letter.
        "|[0-9]{5}[A-HJK]",
        ")$"
    ))
    .expect("the plate pattern is valid")
});

/// Checks a Chinese motor-vehicle plate number (机动车号牌, GA 36-2018) as written without
/// separators: a province abbreviation (京, 沪, 鲁 …), the letter of the issuing office (A–Z
/// without I and O), and then either
/// * five letters or digits (letters without I and O), the last of which may also be a class
///   mark such as 挂 (trailer; hazardous-goods semi-trailers carry these) or 学, or
/// * for new-energy vehicles (8 characters in all), an energy letter (D and F originally, now
///   A–K without I) followed by a letter or digit and four digits (small vehicles, `京AD12345`),
///   or five digits followed by the energy letter (large vehicles, `鲁A12345D`).
///
/// Embassy, military and armed-police plates are not accepted; dangerous goods are not carried
/// under them in road transport subject to 交通运输部令2019年第29号.
pub fn plate(text: &str) -> Result<(), CodeError> {
    if text.len() > 32 || !PLATE.is_match(text) {
        return Err(CodeError::Format(
            "expected a Chinese vehicle plate such as 鲁A12345, 鲁A1234挂 or 京AD12345",
        ));
    }
    Ok(())
}

/// Checks a calendar date written `YYYY-MM-DD` (ISO 8601, GB/T 7408) that exists in the
/// Gregorian calendar, and returns it.
pub fn date(text: &str) -> Result<Date, CodeError> {
    Date::parse(text).ok_or(CodeError::Format(
        "expected a real calendar date YYYY-MM-DD",
    ))
}

/// The longest URL [`url`] accepts, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Checks an absolute `http` or `https` URL (RFC 3986 §3, with the IRI extension of RFC 3987
/// for non-ASCII characters).
///
/// The scheme is `http` or `https` (any case), followed by `://`, a host and an optional port.
/// The host is a domain name whose labels are letters (any script), digits and hyphens, not
/// starting or ending with a hyphen, or an IPv4 address, or an IPv6 address in brackets. User
/// information (`user:password@`) is rejected so that no credentials end up in public records.
/// The path, query and fragment may hold any character except white space, control characters
/// and the characters double quote, `<`, `>`, backslash, `^`, backtick, `{`, `|` and `}`. The
/// whole URL is at most [`MAX_URL_LEN`] bytes.
pub fn url(text: &str) -> Result<(), CodeError> {
    const SHAPE: &str = "expected an absolute http:// or https:// URL";
    if text.len() > MAX_URL_LEN {
        return Err(CodeError::Value("the URL is longer than 2048 bytes"));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(CodeError::Format(SHAPE));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(CodeError::Format(SHAPE));
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(CodeError::Value(
            "the URL carries user information (user@host)",
        ));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((v6, after)) = bracketed.split_once(']') else {
            return Err(CodeError::Format(SHAPE));
        };
        let v6_ok = v6.contains(':')
            && v6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        if !v6_ok {
            return Err(CodeError::Format("the URL's IPv6 host is malformed"));
        }
        match after {
            "" => (v6, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (v6, Some(port)),
                None => return Err(CodeError::Format(SHAPE)),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if !authority.starts_with('[') {
        // A single trailing dot (an absolute domain name) is allowed.
        let name = host.strip_suffix('.').unwrap_or(host);
        let labels_ok = name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !labels_ok {
            return Err(CodeError::Format(
                "the URL's host is not a domain name or address",
            ));
        }
    }
    if let Some(port) = port {
        let port_ok = (1..=5).contains(&port.len())
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| p <= 65_535);
        if !port_ok {
            return Err(CodeError::Format(
                "the URL's port is not a number up to 65535",
            ));
        }
    }
    let bad = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}')
    };
    if tail.chars().any(bad) {
        return Err(CodeError::Value(
            "the URL contains white space, a control character or one of \"<>\\^`{|}",
        ));
    }
    Ok(())
}

/// Checks an electronic waybill number (电子运单号, 《危险货物道路运输电子运单信息交互技术规范
/// (暂行)》). The provincial systems that issue them use different layouts, so only the common
/// shape is checked: 10 to 32 ASCII letters and digits.
pub fn waybill_no(text: &str) -> Result<(), CodeError> {
    if !(10..=32).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CodeError::Format(
            "expected an e-waybill number of 10 to 32 letters and digits",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Characters that single-character corruptions are drawn from: every code character, lower
    /// case letters, separators, white space and a few non-ASCII characters.
    fn replacement_chars() -> Vec<char> {
        let mut chars: Vec<char> = ('0'..='9').chain('A'..='Z').chain('a'..='z').collect();
        chars.extend(['-', ' ', '.', '+', '/', '\0', 'é', '中', 'Ｏ', '０']);
        chars
    }

    /// Every string that differs from `code` in exactly one character, with the position, the
    /// old and the new character.
    fn corruptions(code: &str) -> Vec<(usize, char, char, String)> {
        let chars: Vec<char> = code.chars().collect();
        let mut out = Vec::new();
        for (i, &old) in chars.iter().enumerate() {
            for new in replacement_chars() {
                if new != old {
                    let mut c = chars.clone();
                    c[i] = new;
                    out.push((i, old, new, c.into_iter().collect()));
                }
            }
        }
        out
    }

    /// Real CAS numbers from the shared data set (acetone, water, ethanol, benzene, methane,
    /// toluene, sodium hydroxide, hydrochloric acid, sulfuric acid, chlorine, formaldehyde).
    const REAL_CAS: [&str; 11] = [
        "67-64-1",
        "7732-18-5",
        "64-17-5",
        "71-43-2",
        "74-82-8",
        "108-88-3",
        "1310-73-2",
        "7647-01-0",
        "7664-93-9",
        "7782-50-5",
        "50-00-0",
    ];

    #[test]
    fn accepts_real_cas_numbers() {
        for code in REAL_CAS {
            assert_eq!(cas(code), Ok(()), "{code}");
        }
    }

    /// The only single-character corruptions of a valid CAS number that pass are digit changes
    /// by `d` at a position `p` (counted from the right, before the check digit) with
    /// `p × d ≡ 0 (mod 10)`, which the standard's check cannot see. Everything else is rejected.
    #[test]
    fn cas_rejects_every_detectable_single_character_corruption() {
        let mut collisions = 0;
        for code in REAL_CAS {
            let digit_positions: Vec<usize> = code
                .char_indices()
                .filter(|(_, c)| c.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            let check_at = *digit_positions.last().unwrap();
            for (i, old, new, corrupted) in corruptions(code) {
                let collision = old.is_ascii_digit() && new.is_ascii_digit() && i != check_at && {
                    let position = digit_positions.iter().filter(|&&p| p > i).count() as i32;
                    let delta = new as i32 - old as i32;
                    let leading_zero = i == 0 && new == '0';
                    (position * delta).rem_euclid(10) == 0 && !leading_zero
                };
                if collision {
                    collisions += 1;
                    assert_eq!(cas(&corrupted), Ok(()), "{corrupted}: collision expected");
                } else {
                    assert!(
                        cas(&corrupted).is_err(),
                        "{code} -> {corrupted} was accepted"
                    );
                }
            }
        }
        // For example 67-64-1 -> 67-14-1 (position 2, change 5): 2 × 5 = 10.
        assert!(cas("67-14-1").is_ok());
        assert!(collisions > 0);
    }

    #[test]
    fn cas_rejects_malformed_numbers() {
        for bad in [
            "",
            "67641",
            "67-64-2",
            "6-64-1",
            "12345678-12-1",
            "67-6-1",
            "67-644-1",
            "67-64-11",
            "067-64-1",
            "67-64-1-",
            "-67-64-1",
            "67–64–1",
            "６7-64-1",
            " 67-64-1",
            "67-64-1\n",
        ] {
            assert!(cas(bad).is_err(), "{bad:?}");
        }
        assert_eq!(cas("67-64-2"), Err(CodeError::CheckDigit));
    }

    /// Every CAS number of the shared data set passes, since the set was filtered by the same
    /// check. The file lives beside the repository; the test says so and passes when it is absent.
    #[test]
    fn accepts_every_cas_number_of_the_shared_data_set() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/chemicals.csv");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: {} is not present", path.display());
            return;
        };
        let mut n_checked = 0;
        for line in text.lines().skip(1) {
            let code = line.split(',').next().unwrap();
            assert_eq!(cas(code), Ok(()), "{code}");
            n_checked += 1;
        }
        assert!(n_checked > 10_000, "{n_checked}");
    }

    /// Real unified social credit codes; the first two are given by the task, the others are
    /// well-known companies whose codes pass the check character independently.
    const REAL_USCC: [&str; 6] = [
        "91350100M000100Y43",
        "91110000600037341L",
        "91440300708461136T",
        "914403001922038216",
        "91330100716105852F",
        "91110108551385082Q",
    ];

    #[test]
    fn accepts_real_uscc() {
        for code in REAL_USCC {
            assert_eq!(uscc(code), Ok(()), "{code}");
            // The embedded organisation code has its own GB 11714 check character.
            assert_eq!(organization_code(&code[8..17]), Ok(()), "{code}");
        }
    }

    #[test]
    fn uscc_weights_are_powers_of_three() {
        let mut power = 1;
        for weight in USCC_WEIGHTS {
            assert_eq!(weight, power);
            power = power * 3 % 31;
        }
    }

    /// Every single-character substitution of a valid USCC is rejected: the mod-31 check sees
    /// all of them (31 is prime and no weight is 0 mod 31), and characters outside the alphabet
    /// fail the format check.
    #[test]
    fn uscc_rejects_every_single_character_corruption() {
        for code in REAL_USCC {
            for (_, _, _, corrupted) in corruptions(code) {
                assert!(
                    uscc(&corrupted).is_err(),
                    "{code} -> {corrupted} was accepted"
                );
            }
        }
    }

    #[test]
    fn uscc_reports_the_failing_rule() {
        assert_eq!(uscc("91350100M000100Y44"), Err(CodeError::CheckDigit));
        assert!(matches!(
            uscc("91350100M000100Y4"),
            Err(CodeError::Format(_))
        ));
        assert!(matches!(
            uscc("91350100m000100Y43"),
            Err(CodeError::Format(_))
        ));
        assert!(matches!(
            uscc("91350100I000100Y43"),
            Err(CodeError::Format(_))
        ));
        // Registration authority B is not allocated; category 9 does not exist under 工商.
        assert!(matches!(
            uscc("B1350100M000100Y43"),
            Err(CodeError::Value(_))
        ));
        assert!(matches!(
            uscc("99350100M000100Y43"),
            Err(CodeError::Value(_))
        ));
        // Division 99xxxx has no province.
        assert!(matches!(
            uscc("91990100M000100Y43"),
            Err(CodeError::Value(_))
        ));
    }

    #[test]
    fn organization_codes() {
        assert_eq!(organization_code("70846113-6"), Ok(()));
        assert_eq!(organization_code("708461136"), Ok(()));
        assert_eq!(organization_code("708461137"), Err(CodeError::CheckDigit));
        assert!(organization_code("7084611-36").is_err());
        assert!(organization_code("70846113").is_err());
        // A sum that leaves remainder 1 has check character X; remainder 0 has check 0.
        assert_eq!(organization_code("00000006X"), Ok(()));
        assert_eq!(organization_code("000000000"), Ok(()));
    }

    #[test]
    fn un_numbers() {
        assert_eq!(un_number("UN1090"), Ok(1090));
        assert_eq!(un_number("1090"), Ok(1090));
        assert_eq!(un_number("UN 1090"), Ok(1090));
        assert_eq!(un_number("UN0004"), Ok(4));
        assert_eq!(un_number("UN3549"), Ok(3549));
        for bad in [
            "",
            "UN",
            "UN109",
            "UN10900",
            "un1090",
            "UN-1090",
            "UN  1090",
            "UN0000",
            "UN0003",
            "9037",
            "NA1993",
            "1O90",
            "UN１０９０",
        ] {
            assert!(un_number(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dangerous_goods_numbers() {
        assert_eq!(dangerous_goods_no("31025"), Ok(3));
        assert_eq!(dangerous_goods_no("81007"), Ok(8));
        for bad in ["", "3102", "310255", "01025", "31000", "3102A", "3 102"] {
            assert!(dangerous_goods_no(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn regions() {
        for good in [
            "110000", "110105", "370202", "650100", "710000", "810000", "820000",
        ] {
            assert_eq!(region(good), Ok(()), "{good}");
        }
        for bad in [
            "", "11000", "1100000", "100000", "160000", "240000", "720000", "11010A",
        ] {
            assert!(region(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn industry_codes() {
        assert_eq!(industry_code("C"), Ok(1));
        assert_eq!(industry_code("C26"), Ok(2));
        assert_eq!(industry_code("C261"), Ok(3));
        assert_eq!(industry_code("C2614"), Ok(4));
        assert_eq!(industry_code("G5942"), Ok(4));
        assert_eq!(industry_code("G5435"), Ok(4));
        assert_eq!(industry_code("A0111"), Ok(4));
        assert_eq!(industry_code("T9700"), Ok(4));
        for bad in [
            "", "U", "c2614", "C2", "C26145", "C59", "G26", "B13", "T98", "C26A4", "2614", "CC26",
        ] {
            assert!(industry_code(bad).is_err(), "{bad:?}");
        }
        assert_eq!(industry_class("C2661"), Ok(()));
        assert!(industry_class("C266").is_err());
    }

    #[test]
    fn ghs_hazard_statements() {
        for good in [
            "H225",
            "H200",
            "H420",
            "H300+H310",
            "H300+H310+H330",
            "H300 + H310",
            "H350i",
            "H360FD",
            "H361fd",
            "H314",
        ] {
            assert_eq!(ghs_hazard(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "H",
            "H22",
            "H2250",
            "H209",
            "H100",
            "H500",
            "h225",
            "EUH014",
            "H350F",
            "H225i",
            "H300+",
            "+H300",
            "H300+H300",
            "H300++H310",
            "H 225",
            "P210",
        ] {
            assert!(ghs_hazard(bad).is_err(), "{bad:?}");
        }
    }

    /// The hazard-statement list is the one of the shared GHS data set.
    #[test]
    fn ghs_codes_match_the_shared_data_set() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/ghs.csv");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: {} is not present", path.display());
            return;
        };
        let codes: Vec<u16> = text
            .lines()
            .skip(1)
            .map(|line| line[1..4].parse().unwrap())
            .collect();
        assert_eq!(codes, GHS_H_CODES);
    }

    #[test]
    fn packing_groups() {
        assert_eq!(packing_group("I"), Ok(PackingGroup::I));
        assert_eq!(packing_group("II"), Ok(PackingGroup::II));
        assert_eq!(packing_group("III"), Ok(PackingGroup::III));
        for bad in ["", "IV", "i", "1", "PG II", " II"] {
            assert!(packing_group(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plates() {
        for good in [
            "鲁A12345",
            "京A8F5K2",
            "沪BD12345",
            "粤B12345D",
            "鲁B1234挂",
            "苏E0A1B2",
            "京AF01234",
            "浙A12345F",
        ] {
            assert_eq!(plate(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "鲁A1234",
            "鲁A1234567",
            "鲁I12345",
            "鲁a12345",
            "鲁A1234O",
            "A12345",
            "港A12345",
            "鲁A12345Z",
            "鲁A 12345",
            "鲁·A12345",
        ] {
            assert!(plate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(
            date("2024-02-29").map(|d| d.to_string()),
            Ok("2024-02-29".into())
        );
        assert!(date("2023-02-29").is_err());
        assert!(date("20230228").is_err());
    }

    #[test]
    fn urls() {
        for good in [
            "https://example.com",
            "http://example.com/",
            "HTTPS://example.com:8443/sds/acetone.pdf?lang=zh#s2",
            "https://危化品.中国/sds/1",
            "http://192.0.2.1:8080/x",
            "http://[2001:db8::1]/x",
            "http://[2001:db8::1]:80",
            "https://example.com./x",
            "https://example.com/路径/文件.pdf",
        ] {
            assert_eq!(url(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "example.com",
            "ftp://example.com/",
            "file:///etc/passwd",
            "javascript://alert(1)",
            "https://",
            "https:///path",
            "https://user:pw@example.com/",
            "https://exa mple.com/",
            "https://example.com/a b",
            "https://example.com:99999/",
            "https://example.com:/",
            "https://-example.com/",
            "https://example..com/",
            "https://[::1/",
            "https://[zz::1]/",
            "https://example.com/<script>",
        ] {
            assert!(url(bad).is_err(), "{bad:?}");
        }
        assert!(url(&format!("https://example.com/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn waybill_numbers() {
        assert_eq!(waybill_no("370200202401150001"), Ok(()));
        assert_eq!(waybill_no("YD2024ABC0001"), Ok(()));
        for bad in [
            "",
            "123456789",
            &"1".repeat(33),
            "3702-2024-0001",
            "运单2024011500",
        ] {
            assert!(waybill_no(bad).is_err(), "{bad:?}");
        }
    }
}
