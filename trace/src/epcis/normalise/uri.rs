//! The identifiers of events as the reference generator normalises them: EPC URNs to GS1
//! Digital Link URIs, and Digital Link URIs to their canonical `https://id.gs1.org/` form, with
//! the reference's regular expressions compiled to behave as Python's `re.match`.

use super::*;

/// The character class of the GS1 AI encodable set 82 in the reference's EPC URN patterns
/// (escaped characters or the allowed literal ones).
pub(super) const CS82: &str = r"(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!\')(*+,.0-9:;=A-Za-z_-])";
/// The CPI character class of the reference's EPC URN patterns.
pub(super) const CPI: &str = r"(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-])";
/// The Digital Link value class of the reference's output patterns.
pub(super) const DLV: &str = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]";

/// Compiles a reference pattern with Python `re.match` semantics: anchored at the start, and
/// `$` also matching before one final newline. With `ascii_digits`, `\d` is `[0-9]` (used where
/// the reference converts the digits with `int()`).
pub(super) fn py_match_regex(pattern: &str, ascii_digits: bool) -> Regex {
    // The patterns are literals of this module and are covered by tests.
    Regex::new(&py_match_pattern(pattern, ascii_digits)).expect("normaliser pattern compiles")
}

/// The text of [`py_match_regex`]'s regex.
pub(super) fn py_match_pattern(pattern: &str, ascii_digits: bool) -> String {
    let mut pattern = pattern
        .replace("{CS82}", CS82)
        .replace("{CPI}", CPI)
        .replace("{DLV}", DLV)
        .replace('$', r"\n?$");
    if ascii_digits {
        pattern = pattern.replace(r"\d", "[0-9]");
    }
    format!("^(?:{pattern})")
}

/// The EPC URN schemes the normaliser converts, in the reference's order.
#[derive(Clone, Copy)]
pub(super) enum Urn {
    Sgtin,
    Sscc,
    Sgln,
    Grai,
    Giai,
    Gsrn,
    Gsrnp,
    Gdti,
    Cpi,
    Sgcn,
    Ginc,
    Gsin,
    Itip,
    Upui,
    Pgln,
    Lgtin,
    PatSgtin,
    PatGrai,
    PatGdti,
    PatSgcn,
    PatCpi,
    PatItip,
    PatUpui,
}

/// A URN pattern of the normaliser with its literal start.
pub(super) struct UrnPattern {
    pub(super) urn: Urn,
    pub(super) prefix: String,
    pub(super) regex: Regex,
}

pub(super) static URN_PATTERNS: LazyLock<Vec<UrnPattern>> = LazyLock::new(|| {
    let gtin_parts = r"((\d{6}\.\d{7})|(\d{7}\.\d{6})|(\d{8}\.\d{5})|(\d{9}\.\d{4})|(\d{10}\.\d{3})|(\d{11}\.\d{2})|(\d{12}\.\d{1}))";
    let gln_parts = r"((\d{6}\.\d{6})|(\d{7}\.\d{5})|(\d{8}\.\d{4})|(\d{9}\.\d{3})|(\d{10}\.\d{2})|(\d{11}\.\d{1})|(\d{12}\.))";
    let asset_parts = r"(([\d]{6}\.[\d]{6})|([\d]{7}\.[\d]{5})|([\d]{8}\.[\d]{4})|([\d]{9}\.[\d]{3})|([\d]{10}\.[\d]{2})|([\d]{11}\.[\d]{1})|([\d]{12}\.\.))";
    let giai = r"^urn:epc:id:giai:(([\d]{6}\.{CS82}{1,24})|([\d]{7}\.{CS82}{1,23})|([\d]{8}\.{CS82}{1,22})|([\d]{9}\.{CS82}{1,21})|([\d]{10}\.{CS82}{1,20})|([\d]{11}\.{CS82}{1,19})|([\d]{12}\.{CS82}{1,18}))$";
    let cpi_ref = r"((\d{6}\.{CPI}{1,24})|(\d{7}\.{CPI}{1,23})|(\d{8}\.{CPI}{1,22})|(\d{9}\.{CPI}{1,21})|(\d{10}\.{CPI}{1,20})|(\d{11}\.{CPI}{1,19})|(\d{12}\.{CPI}{1,18}))";
    let ginc = r"^urn:epc:id:ginc:([\d]{6}\.{CS82}{1,24}|[\d]{7}\.{CS82}{1,23}|[\d]{8}\.{CS82}{1,22}|[\d]{9}\.{CS82}{1,21}|[\d]{10}\.{CS82}{1,20}|[\d]{11}\.{CS82}{1,19}|[\d]{12}\.{CS82}{1,18})$";
    let service = |n: &str| {
        format!(
            r"^urn:epc:id:{n}:(([\d]{{6}}\.[\d]{{11}}$)|([\d]{{7}}\.[\d]{{10}}$)|([\d]{{8}}\.[\d]{{9}}$)|([\d]{{9}}\.[\d]{{8}}$)|([\d]{{10}}\.[\d]{{7}}$)|([\d]{{11}}\.[\d]{{6}}$)|([\d]{{12}}\.[\d]{{5}}$))"
        )
    };
    let patterns: Vec<(Urn, String)> = vec![
        (Urn::Sgtin, format!(r"^urn:epc:id:sgtin:{gtin_parts}\.{{CS82}}{{1,20}}$")),
        (
            Urn::Sscc,
            r"^urn:epc:id:sscc:((\d{6}\.\d{11}$)|(\d{7}\.\d{10}$)|(\d{8}\.\d{9}$)|(\d{9}\.\d{8}$)|(\d{10}\.\d{7}$)|(\d{11}\.\d{6}$)|(\d{12}\.\d{5}$))".to_owned(),
        ),
        (Urn::Sgln, format!(r"^urn:epc:id:sgln:{gln_parts}\.{{CS82}}{{1,20}}$")),
        (Urn::Grai, format!(r"^urn:epc:id:grai:{asset_parts}\.{{CS82}}{{1,16}}$")),
        (Urn::Giai, giai.to_owned()),
        (Urn::Gsrn, service("gsrn")),
        (Urn::Gsrnp, service("gsrnp")),
        (Urn::Gdti, format!(r"^urn:epc:id:gdti:{asset_parts}{{CS82}}{{1,20}}$")),
        (Urn::Cpi, format!(r"^urn:epc:id:cpi:{cpi_ref}\.[\d]{{1,12}}$")),
        (Urn::Sgcn, format!(r"^urn:epc:id:sgcn:{}\.[\d]{{1,12}}$", gln_parts.replace(r"\d", r"[\d]"))),
        (Urn::Ginc, ginc.to_owned()),
        (
            Urn::Gsin,
            r"^urn:epc:id:gsin:(([\d]{6}\.[\d]{10}$)|([\d]{7}\.[\d]{9}$)|([\d]{8}\.[\d]{8}$)|([\d]{9}\.[\d]{7}$)|([\d]{10}\.[\d]{6}$)|([\d]{11}\.[\d]{5}$)|([\d]{12}\.[\d]{4}$))".to_owned(),
        ),
        (
            Urn::Itip,
            format!(r"^urn:epc:id:itip:{}\.[\d]{{2}}\.[\d]{{2}}\.{{CS82}}{{1,20}}$", gtin_parts.replace(r"\d", r"[\d]")),
        ),
        (Urn::Upui, format!(r"^urn:epc:id:upui:{gtin_parts}\.{{CS82}}{{1,28}}$")),
        (Urn::Pgln, format!(r"^urn:epc:id:pgln:{}$", gln_parts.replace(r"\d", r"[\d]"))),
        (
            Urn::Lgtin,
            format!(r"^urn:epc:class:lgtin:{}\.{{CS82}}{{1,20}}$", gtin_parts.replace(r"\d", r"[\d]")),
        ),
        (Urn::PatSgtin, format!(r"^urn:epc:idpat:sgtin:{gtin_parts}\.\*$")),
        (Urn::PatGrai, format!(r"^urn:epc:idpat:grai:{asset_parts}\.\*$")),
        (Urn::PatGdti, format!(r"^urn:epc:idpat:gdti:{asset_parts}\.\*$")),
        (Urn::PatSgcn, format!(r"^urn:epc:idpat:sgcn:{asset_parts}\.\*$")),
        (Urn::PatCpi, format!(r"^urn:epc:idpat:cpi:{cpi_ref}\.\*$")),
        (
            Urn::PatItip,
            format!(r"^urn:epc:idpat:itip:{}\.[\d]{{2}}\.[\d]{{2}}\.\*$", gtin_parts.replace(r"\d", r"[\d]")),
        ),
        (Urn::PatUpui, format!(r"^urn:epc:idpat:upui:{gtin_parts}\.\*$")),
    ];
    patterns
        .into_iter()
        .map(|(urn, pattern)| UrnPattern {
            urn,
            prefix: literal_prefix(&pattern),
            regex: py_match_regex(&pattern, true),
        })
        .collect()
});

/// The literal start of a URN pattern, `^urn:epc:<kind>:<scheme>:`, without the caret: a text
/// that does not start with it cannot match, so the pattern need not run.
pub(super) fn literal_prefix(pattern: &str) -> String {
    let mut prefix = String::new();
    let mut n_colons = 0;
    for c in pattern.chars().skip_while(|c| *c == '^') {
        // Only letters and colons, which are literal in a pattern, are taken.
        if !(c.is_ascii_lowercase() || c == ':') || n_colons == 4 {
            break;
        }
        prefix.push(c);
        n_colons += usize::from(c == ':');
    }
    prefix
}

/// The first pattern a GS1 Digital Link URI must match.
pub(super) static DL_SYNTAX: LazyLock<Regex> = LazyLock::new(|| {
    py_match_regex(
        r"^https?:(\/\/((([^\/?#]*)@)?([^\/?#:]*)(:([^\/?#]*))?))?((([^?#]*)(\/(01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|gsin|8003|grai|8004|giai)\/)(\d{4}[^\/]+)(\/[^/]+\/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?)|(\/[A-Za-z_-]{10}$))",
        false,
    )
});

/// A URI already on the canonical domain.
pub(super) static DL_CANONICAL_DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    py_match_regex(
        r"^https:\/\/id.gs1.org\/(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)\/(\d{4}[^\/]+)(\/[^\/]+\/[^\/]+)?[\/]?(\?([^?\n]*))?(#([^\n]*))?|(\/[A-Za-z_-]{10}$)",
        false,
    )
});

pub(super) static DL_MISC: LazyLock<[Regex; 9]> = LazyLock::new(|| {
    [
        r"^https:\/\/id.gs1.org\/01\/\d{14}",
        r"^https:\/\/id.gs1.org\/01\/\d{13}",
        r"^https:\/\/id.gs1.org\/01\/\d{12}",
        r"^https:\/\/id.gs1.org\/01\/\d{8}",
        r"https:\/\/id.gs1.org\/8006\/\d{18}\/22\/({DLV}{0,20})$",
        r"https:\/\/id.gs1.org\/01\/\d{14}\/22\/({DLV}{0,20})$",
        r"https:\/\/id.gs1.org\/8006\/\d{18}\/22\/([\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$",
        r"https:\/\/id.gs1.org\/01\/\d{14}\/22\/([\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]{0,20})$",
        r"https:\/\/id.gs1.org\/8006\/\d{18}\/10\/({DLV}{0,20})\/21\/({DLV}{0,20})$|https:\/\/id.gs1.org\/01\/(\d{14})\/10\/({DLV}{0,20})\/21\/({DLV}{0,20})$",
    ]
    .map(|pattern| py_match_regex(pattern, false))
});

/// The constrained canonical forms the normaliser may return.
pub(super) const DL_VALID_PATTERNS: [&str; 21] = [
    r"https:\/\/id.gs1.org\/00\/(\d{18})$",
    r"https:\/\/id.gs1.org\/01\/(\d{14})\/21\/({DLV}{0,20})$",
    r"https:\/\/id.gs1.org\/01\/(\d{14})\/10\/({DLV}{0,20})$",
    r"https:\/\/id.gs1.org\/01\/(\d{14})$",
    r"https:\/\/id.gs1.org\/01\/(\d{14})\/235\/({DLV}{0,28})$",
    r"https:\/\/id.gs1.org\/253\/(\d{13})({DLV}{0,17})$",
    r"https:\/\/id.gs1.org\/255\/(\d{13})(\d{0,12})$",
    r"https:\/\/id.gs1.org\/401\/({DLV}{0,30})$",
    r"https:\/\/id.gs1.org\/402\/(\d{17})$",
    r"https:\/\/id.gs1.org\/414\/(\d{13})$",
    r"https:\/\/id.gs1.org\/414\/(\d{13})\/254\/({DLV}{0,20})$",
    r"https:\/\/id.gs1.org\/417\/(\d{13})$",
    r"https:\/\/id.gs1.org\/8003\/(\d{14})({DLV}{0,16})$",
    r"https:\/\/id.gs1.org\/8004\/({DLV}{0,30})$",
    r"https:\/\/id.gs1.org\/8006\/(\d{18})\/21\/({DLV}{0,20})$",
    r"https:\/\/id.gs1.org\/8006\/(\d{18})\/10\/({DLV}{0,20})$",
    r"https:\/\/id.gs1.org\/8006\/(\d{18})$",
    r"https:\/\/id.gs1.org\/8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})\/8011/(\d{0,12})$",
    r"https:\/\/id.gs1.org\/8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})$",
    r"https:\/\/id.gs1.org\/8017\/(\d{18})$",
    r"https:\/\/id.gs1.org\/8018\/(\d{18})$",
];

/// [`DL_VALID_PATTERNS`], each with the path segment of its key (`/00/`, `/01/`, …): every
/// pattern starts with `https://id.gs1.org` and that segment, so a text without the segment
/// cannot match it.
pub(super) static DL_VALID: LazyLock<Vec<(String, Regex)>> = LazyLock::new(|| {
    DL_VALID_PATTERNS
        .iter()
        .map(|pattern| (key_segment(pattern), py_match_regex(pattern, false)))
        .collect()
});

/// The `/<key>/` segment after `https:\/\/id.gs1.org` in a pattern of [`DL_VALID_PATTERNS`].
pub(super) fn key_segment(pattern: &str) -> String {
    let rest = pattern
        .strip_prefix(r"https:\/\/id.gs1.org\/")
        .unwrap_or_default();
    let key: String = rest.chars().take_while(char::is_ascii_digit).collect();
    format!("/{key}/")
}

/// `__web_uri_percent_encoder`. None of the replacements contains a character replaced
/// after it, so one pass over the text gives the reference's chain of replacements.
pub(super) fn percent_encode(text: &str) -> Cow<'_, str> {
    if !text.contains(['!', '(', ')', '*', '+', ',', ':']) {
        return Cow::Borrowed(text);
    }
    let mut encoded = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '!' => encoded.push_str("%21"),
            '(' => encoded.push_str("%28"),
            ')' => encoded.push_str("%29"),
            '*' => encoded.push_str("%2A"),
            '+' => encoded.push_str("%2B"),
            ',' => encoded.push_str("%2C"),
            ':' => encoded.push_str("%3A"),
            other => encoded.push(other),
        }
    }
    Cow::Owned(encoded)
}

/// `check_digit`: the GS1 mod-10 check digit of ASCII digits (GenSpecs §7.9.1).
pub(super) fn check_digit(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte.wrapping_sub(b'0') % 10);
            if position % 2 == 0 { digit * 3 } else { digit }
        })
        .sum();
    sum.div_ceil(10) * 10 - sum
}

/// Python's `s[start:end]` on code points with non-negative bounds that are clamped.
pub(super) fn slice(text: &str, start: usize, end: Option<usize>) -> Cow<'_, str> {
    if text.is_ascii() {
        // Code points are bytes.
        let end = end.unwrap_or(text.len()).min(text.len());
        return Cow::Borrowed(&text[start.min(end)..end]);
    }
    let len = text.chars().count();
    let end = end.unwrap_or(len).min(len);
    let start = start.min(end);
    Cow::Owned(text.chars().skip(start).take(end - start).collect())
}

/// Python's `s.find(needle)` in code points, `-1` when absent.
pub(super) fn py_find(text: &str, needle: &str) -> isize {
    text.find(needle).map_or(-1, |byte_index| {
        isize::try_from(text[..byte_index].chars().count()).unwrap_or(isize::MAX)
    })
}

/// Python's `s[start:end]` with possibly negative bounds (relative to the end).
pub(super) fn py_slice(text: &str, start: isize, end: Option<isize>) -> String {
    let len = isize::try_from(text.chars().count()).unwrap_or(isize::MAX);
    let resolve = |index: isize| -> usize {
        let index = if index < 0 {
            (index + len).max(0)
        } else {
            index.min(len)
        };
        usize::try_from(index).unwrap_or(0)
    };
    let start = resolve(start);
    let end = end.map_or_else(|| usize::try_from(len).unwrap_or(0), resolve);
    if start >= end {
        return String::new();
    }
    text.chars().skip(start).take(end - start).collect()
}

/// `dl_normaliser.normaliser`: converts an EPC URN, EPC class URN, EPC ID pattern URN or GS1
/// Digital Link URI into the constrained canonical Digital Link URI on `https://id.gs1.org`,
/// or `None` when the text is none of these.
pub(crate) fn dl_normalise(uri: &str) -> Option<String> {
    // The URN branches slice at byte offsets: their patterns only match ASCII text.
    let partition = uri.find('.')?;
    // Every URN pattern starts with a literal `urn:epc:<kind>:<scheme>:`, and the Digital Link
    // syntax with `http:` or `https:`: other text is passed over without running the patterns.
    // Below, a pattern also runs only when the text holds the literal path segments (such as
    // `/22/`) without which it cannot match; the result is the same as running it.
    if is_plain_sgtin_urn(uri) {
        return Some(convert_urn(Urn::Sgtin, uri, partition));
    }
    if uri.starts_with("urn:epc:") {
        for pattern in URN_PATTERNS.iter() {
            if uri.starts_with(&pattern.prefix) && pattern.regex.is_match(uri) {
                return Some(convert_urn(pattern.urn, uri, partition));
            }
        }
    }
    if is_canonical_sgtin(uri) {
        return Some(uri.to_owned());
    }
    if !(uri.starts_with("http:") || uri.starts_with("https:")) || !DL_SYNTAX.is_match(uri) {
        return None;
    }
    let mut uri = match uri.find('?') {
        Some(query) => uri[..query].to_owned(),
        None => uri.to_owned(),
    };
    for (short, ai) in DL_SHORT_NAMES {
        if uri.contains(short) {
            uri = uri.replace(short, ai);
        }
    }
    if !DL_CANONICAL_DOMAIN.is_match(&uri) {
        for key in PRIMARY_KEYS {
            if let Some(position) = uri.find(key) {
                uri = format!("https://id.gs1.org{}", &uri[position..]);
                break;
            }
        }
    }
    let [
        gtin14,
        gtin13,
        gtin12,
        gtin8,
        cpv_8006,
        cpv_01,
        cpv_8006_more,
        cpv_01_more,
        lot_and_serial,
    ] = &*DL_MISC;
    // The GTIN patterns all contain `/01/`.
    if uri.contains("/01/") && !gtin14.is_match(&uri) {
        if gtin13.is_match(&uri) {
            uri = uri.replace("/01/", "/01/0");
        } else if gtin12.is_match(&uri) {
            uri = uri.replace("/01/", "/01/00");
        } else if gtin8.is_match(&uri) {
            uri = uri.replace("/01/", "/01/000000");
        }
    }
    // Drops a CPV qualifier (`/22/…`), which is coarser than the key it qualifies. The four
    // CPV patterns contain `/22/`; without it neither step changes the text.
    if uri.contains("/22/") {
        let after_cpv = py_slice(&uri, py_find(&uri, "/22/") + 4, None);
        if cpv_8006.is_match(&uri) || cpv_01.is_match(&uri) {
            let head = py_slice(&uri, 0, Some(py_find(&uri, "/22/")));
            uri = head + &py_slice(&after_cpv, py_find(&after_cpv, "/"), Some(-1));
        }
        if cpv_8006_more.is_match(&uri) || cpv_01_more.is_match(&uri) {
            let head = py_slice(&uri, 0, Some(py_find(&uri, "/22/")));
            uri = head + &py_slice(&after_cpv, py_find(&after_cpv, "/"), None);
        }
    }
    // Keeps the serial and drops the lot when both are present (the pattern contains `/10/`).
    if uri.contains("/10/") && lot_and_serial.is_match(&uri) {
        let after_lot = py_slice(&uri, py_find(&uri, "/10/") + 4, None);
        let head = py_slice(&uri, 0, Some(py_find(&uri, "/10/")));
        uri = head + &py_slice(&after_lot, py_find(&after_lot, "/"), None);
    }
    DL_VALID
        .iter()
        .any(|(segment, pattern)| uri.contains(segment.as_str()) && pattern.is_match(&uri))
        .then_some(uri)
}

/// Whether `urn` is `urn:epc:id:sgtin:<company>.<item>.<serial>` with a company prefix of 6 to
/// 12 ASCII digits, an item reference of the 13 digits less, and a serial of 1 to 20 ASCII
/// letters and digits: an SGTIN URN that the first URN pattern (SGTIN, with its serial of
/// encodable characters) matches.
pub(super) fn is_plain_sgtin_urn(urn: &str) -> bool {
    let Some(rest) = urn.strip_prefix("urn:epc:id:sgtin:") else {
        return false;
    };
    let bytes = rest.as_bytes();
    let company = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(6..=12).contains(&company) || bytes.get(company) != Some(&b'.') {
        return false;
    }
    let item_end = company + 1 + (13 - company);
    let (Some(item), Some(b'.')) = (bytes.get(company + 1..item_end), bytes.get(item_end)) else {
        return false;
    };
    let serial = &bytes[item_end + 1..];
    item.iter().all(u8::is_ascii_digit)
        && (1..=20).contains(&serial.len())
        && serial.iter().all(u8::is_ascii_alphanumeric)
}

/// Whether `uri` is `https://id.gs1.org/01/<14 ASCII digits>/21/<serial>` with a serial of 1 to
/// 20 ASCII letters, digits, `_`, `.` or `-`: the canonical Digital Link URI of an SGTIN, the
/// most common EPC.
///
/// The normaliser returns such a URI unchanged: it matches the syntax pattern and the
/// canonical domain pattern, holds no short name (every segment followed by a `/` is empty,
/// the host, `01`, the GTIN or `21`), no query, CPV or lot, has a 14-digit GTIN, and matches
/// the valid form of a GTIN with a serial.
pub(super) fn is_canonical_sgtin(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("https://id.gs1.org/01/") else {
        return false;
    };
    let bytes = rest.as_bytes();
    let Some(serial) = bytes
        .get(14..)
        .and_then(|after| after.strip_prefix(b"/21/"))
    else {
        return false;
    };
    bytes[..14].iter().all(u8::is_ascii_digit)
        && (1..=20).contains(&serial.len())
        && serial
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The EPC URN branches of the normaliser; `uri` is ASCII and matched `urn`'s pattern.
pub(super) fn convert_urn(urn: Urn, uri: &str, partition: usize) -> String {
    let company = |from: usize| slice(uri, from, Some(partition));
    let gtin = |from: usize| {
        let prefix = company(from);
        let item = slice(
            uri,
            partition + 1,
            Some(partition + 1 + 13usize.saturating_sub(prefix.len())),
        );
        let mut gtin = String::with_capacity(14);
        gtin.push_str(&slice(&item, 0, Some(1)));
        gtin.push_str(&prefix);
        gtin.push_str(&slice(&item, 1, None));
        let check = check_digit(&gtin);
        gtin.push_str(&check.to_string());
        gtin
    };
    let gln_like = |from: usize| {
        let prefix = company(from);
        let reference = slice(
            uri,
            partition + 1,
            Some(partition + 1 + 12usize.saturating_sub(prefix.len())),
        );
        format!("{prefix}{reference}")
    };
    let with_check = |raw: String| format!("{raw}{}", check_digit(&raw));
    let rest = |from: usize| slice(uri, from, None);
    match urn {
        Urn::Sgtin => format!(
            "https://id.gs1.org/01/{}/21/{}",
            gtin(17),
            percent_encode(&rest(32))
        ),
        Urn::Sscc => {
            let raw = format!(
                "{}{}{}",
                slice(uri, partition + 1, Some(partition + 2)),
                company(16),
                rest(partition + 2)
            );
            format!("https://id.gs1.org/00/{}", with_check(raw))
        }
        Urn::Sgln => {
            let gln = with_check(gln_like(16));
            let extension = rest(30);
            if extension == "0" {
                format!("https://id.gs1.org/414/{gln}")
            } else {
                format!(
                    "https://id.gs1.org/414/{gln}/254/{}",
                    percent_encode(&extension)
                )
            }
        }
        Urn::Grai => format!(
            "https://id.gs1.org/8003/{}{}",
            with_check(format!("0{}", gln_like(16))),
            percent_encode(&rest(30))
        ),
        Urn::Giai => format!(
            "https://id.gs1.org/8004/{}{}",
            company(16),
            percent_encode(&rest(partition + 1))
        ),
        Urn::Gsrn => format!(
            "https://id.gs1.org/8018/{}",
            with_check(format!("{}{}", company(16), rest(partition + 1)))
        ),
        Urn::Gsrnp => format!(
            "https://id.gs1.org/8017/{}",
            with_check(format!("{}{}", company(17), rest(partition + 1)))
        ),
        Urn::Gdti => format!(
            "https://id.gs1.org/253/{}{}",
            with_check(gln_like(16)),
            percent_encode(&rest(30))
        ),
        Urn::Cpi => {
            let separator = uri.rfind('.').unwrap_or(partition);
            let raw = format!(
                "{}{}",
                company(15),
                slice(uri, partition + 1, Some(separator))
            );
            format!(
                "https://id.gs1.org/8010/{}/8011/{}",
                percent_encode(&raw),
                rest(separator + 1)
            )
        }
        Urn::Sgcn => format!(
            "https://id.gs1.org/255/{}{}",
            with_check(gln_like(16)),
            rest(30)
        ),
        Urn::Ginc => format!(
            "https://id.gs1.org/401/{}{}",
            company(16),
            percent_encode(&rest(partition + 1))
        ),
        Urn::Gsin => format!(
            "https://id.gs1.org/402/{}",
            with_check(format!("{}{}", company(16), rest(partition + 1)))
        ),
        Urn::Itip => format!(
            "https://id.gs1.org/8006/{}{}{}/21/{}",
            gtin(16),
            slice(uri, 31, Some(33)),
            slice(uri, 34, Some(36)),
            percent_encode(&rest(37))
        ),
        Urn::Upui => format!(
            "https://id.gs1.org/01/{}/235/{}",
            gtin(16),
            percent_encode(&rest(31))
        ),
        Urn::Pgln => format!("https://id.gs1.org/417/{}", with_check(gln_like(16))),
        Urn::Lgtin => format!(
            "https://id.gs1.org/01/{}/10/{}",
            gtin(20),
            percent_encode(&rest(35))
        ),
        Urn::PatSgtin => format!("https://id.gs1.org/01/{}", gtin(20)),
        Urn::PatGrai => format!(
            "https://id.gs1.org/8003/{}",
            with_check(format!("0{}", gln_like(19)))
        ),
        Urn::PatGdti => format!("https://id.gs1.org/253/{}", with_check(gln_like(19))),
        Urn::PatSgcn => format!("https://id.gs1.org/255/{}", with_check(gln_like(19))),
        Urn::PatCpi => {
            let separator = uri.rfind('.').unwrap_or(partition);
            let raw = format!(
                "{}{}",
                company(18),
                slice(uri, partition + 1, Some(separator))
            );
            format!("https://id.gs1.org/8010/{}", percent_encode(&raw))
        }
        Urn::PatItip => format!(
            "https://id.gs1.org/8006/{}{}{}",
            gtin(19),
            slice(uri, 34, Some(36)),
            slice(uri, 37, Some(39))
        ),
        Urn::PatUpui => format!("https://id.gs1.org/01/{}", gtin(19)),
    }
}
