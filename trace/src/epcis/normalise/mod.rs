//! Value canonicalisation of the CBV 2.0 pre-hash: CBV URNs, numbers, timestamps and the GS1
//! Digital Link normaliser.
//!
//! This is a port of `hash_generator._canonize_value`, `_try_format_numeric`,
//! `_fix_time_stamp_format` and `dl_normaliser.normaliser` of the reference generator. Python
//! semantics that matter for the output are kept on purpose: `str.strip()` whitespace,
//! `float()` syntax (underscores between digits, `inf`, `nan`), `repr(float)`, banker's rounding
//! of microseconds to milliseconds, `re.match` anchoring and `$` matching before a final newline.

mod uri;

pub(crate) use self::uri::dl_normalise;
#[allow(unused_imports)] // The tests check the URN patterns directly.
use self::uri::*;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::gs1::{DL_SHORT_NAMES, PRIMARY_KEYS};

/// Why a value made the whole event fail, where the reference generator raises an exception
/// and drops the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueFailure {
    /// `int(float(value))` overflows: the value is an infinite number.
    InfiniteNumber(String),
    /// The timestamp rounds to a full second, or its UTC form is out of range, or its offset
    /// is 24 hours or more.
    Timestamp(String),
}

/// Python's `str.isspace()` for one character: Unicode `White_Space` plus the ASCII
/// information separators U+001C..U+001F.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` without arguments.
pub(crate) fn py_strip(text: &str) -> &str {
    text.trim_matches(is_py_space)
}

/// The canonical values of one document, memoised.
///
/// The same identifiers (locations, business steps, dispositions, classes) recur in every
/// event of a document, and [`canonize_value`] is a pure function of its text, so each
/// distinct text that may reach the normaliser's patterns is converted once.
#[derive(Debug, Default)]
pub(crate) struct ValueCache {
    values: HashMap<String, Result<String, ValueFailure>>,
}

impl ValueCache {
    /// Appends [`canonize_value`] of `text` to `out`.
    pub(crate) fn push_value(&mut self, text: &str, out: &mut String) -> Result<(), ValueFailure> {
        // Only a text with a `.` (or a CBV URN, which becomes a Web URI) can reach the
        // normaliser's patterns; other texts cost less to convert than to look up.
        if !(text.contains('.') || text.contains("urn:epcglobal:cbv:")) {
            out.push_str(&canonize_value(text)?);
            return Ok(());
        }
        // Most EPCs are SGTINs, each named in one event or two, and cost little to convert:
        // a canonical SGTIN URI is left alone by the steps before the normaliser (no CBV URN,
        // not a number) and returned unchanged by it; an SGTIN URN with a plain serial is
        // converted without running a pattern.
        if is_canonical_sgtin(text) {
            out.push_str(text);
            return Ok(());
        }
        if is_plain_sgtin_urn(text) {
            out.push_str(&canonize_value(text)?);
            return Ok(());
        }
        if let Some(result) = self.values.get(text) {
            out.push_str(result.as_ref().map_err(Clone::clone)?);
            return Ok(());
        }
        let result = canonize_value(text);
        let outcome = match &result {
            Ok(value) => {
                out.push_str(value);
                Ok(())
            }
            Err(failure) => Err(failure.clone()),
        };
        self.values.insert(text.to_owned(), result);
        outcome
    }
}

/// `_canonize_value`: CBV URNs to Web URIs, then numbers, then the Digital Link normaliser.
pub(crate) fn canonize_value(text: &str) -> Result<String, ValueFailure> {
    let text = format_web_vocabulary(text);
    let text = format_numeric(&text)?;
    Ok(dl_normalise(&text).unwrap_or_else(|| text.into_owned()))
}

/// `_try_format_web_vocabulary`: replaces the CBV 1.x URN prefixes by the CBV 2.0 Web URIs.
fn format_web_vocabulary(text: &str) -> Cow<'_, str> {
    // Every prefix replaced below starts so; most values have none.
    if !text.contains("urn:epcglobal:cbv:") {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.replace(
            "urn:epcglobal:cbv:bizstep:",
            "https://ref.gs1.org/cbv/BizStep-",
        )
        .replace("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")
        .replace("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-")
        .replace("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-")
        .replace("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
    )
}

/// `_try_format_numeric`: a text that Python's `float()` accepts becomes `str(int(x))` when
/// the number is integral and `repr(x)` otherwise; other text is unchanged.
///
/// `nan` stays as written (Python's `int(nan)` raises the `ValueError` that is caught), and an
/// infinite number fails the event (Python's `int(inf)` raises an uncaught `OverflowError`).
fn format_numeric(text: &str) -> Result<Cow<'_, str>, ValueFailure> {
    let Some(number) = py_float(text) else {
        return Ok(Cow::Borrowed(text));
    };
    if number.is_nan() {
        return Ok(Cow::Borrowed(text));
    }
    if number.is_infinite() {
        return Err(ValueFailure::InfiniteNumber(text.to_owned()));
    }
    if number.fract() == 0.0 {
        Ok(Cow::Owned(integral_f64_to_decimal(number)))
    } else {
        Ok(Cow::Owned(py_float_repr(number)))
    }
}

/// Python's `float(text)` for ASCII input: optional whitespace and sign, then `inf`,
/// `infinity` or `nan` in any case, or a decimal literal whose digit groups may be separated by
/// single underscores.
pub(crate) fn py_float(text: &str) -> Option<f64> {
    let text = py_strip(text);
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        f64::INFINITY
    } else if body.eq_ignore_ascii_case("nan") {
        f64::NAN
    } else {
        parse_decimal_literal(body)?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Parses `digitpart ["." [digitpart]] | "." digitpart`, then an optional exponent, where a
/// digitpart is ASCII digits with single underscores between them.
fn parse_decimal_literal(body: &str) -> Option<f64> {
    let bytes = body.as_bytes();
    // Every literal starts with a digit or the point; most texts are passed over here.
    if !bytes
        .first()
        .is_some_and(|b| b.is_ascii_digit() || *b == b'.')
    {
        return None;
    }
    let mut cleaned = String::with_capacity(body.len());
    let mut index = 0;
    let digit_part = |index: &mut usize, cleaned: &mut String| -> bool {
        let start = *index;
        while *index < bytes.len() {
            let byte = bytes[*index];
            if byte.is_ascii_digit() {
                cleaned.push(char::from(byte));
                *index += 1;
            } else if byte == b'_'
                && *index > start
                && bytes.get(*index + 1).is_some_and(u8::is_ascii_digit)
            {
                *index += 1;
            } else {
                break;
            }
        }
        *index > start
    };
    let has_integer = digit_part(&mut index, &mut cleaned);
    let mut has_fraction = false;
    if bytes.get(index) == Some(&b'.') {
        cleaned.push('.');
        index += 1;
        has_fraction = digit_part(&mut index, &mut cleaned);
    }
    if !has_integer && !has_fraction {
        return None;
    }
    if matches!(bytes.get(index), Some(b'e' | b'E')) {
        cleaned.push('e');
        index += 1;
        if let Some(&sign @ (b'+' | b'-')) = bytes.get(index) {
            cleaned.push(char::from(sign));
            index += 1;
        }
        if !digit_part(&mut index, &mut cleaned) {
            return None;
        }
    }
    if index != bytes.len() {
        return None;
    }
    cleaned.parse().ok()
}

/// Python's `repr(float)`: the shortest round-trip digits, in positional notation when the
/// decimal exponent is in `-4..16` and in scientific notation (`1e-05`, `1.5e+16`) otherwise.
pub(crate) fn py_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    // `{:e}` prints the shortest round-trip digits as `d[.ddd]e<exp>`.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // `digits` is never empty: `{:e}` always prints at least one mantissa digit.
    let point = exponent + 1;
    let n_digits = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let body = if !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{first}{fraction}e{exponent_sign}{:02}", exponent.abs())
    } else if point <= 0 {
        format!(
            "0.{}{digits}",
            "0".repeat(usize::try_from(-point).unwrap_or(0))
        )
    } else if point >= n_digits {
        format!(
            "{digits}{}.0",
            "0".repeat(usize::try_from(point - n_digits).unwrap_or(0))
        )
    } else {
        let (whole, fraction) = digits.split_at(usize::try_from(point).unwrap_or(0));
        format!("{whole}.{fraction}")
    };
    format!("{sign}{body}")
}

/// Python's `str(int(x))` for a finite integral double: its exact decimal value.
pub(crate) fn integral_f64_to_decimal(value: f64) -> String {
    if value.abs() < 1e18 {
        // Exact: the value is integral and below 2^63.
        #[allow(clippy::cast_possible_truncation)]
        return (value as i64).to_string();
    }
    let bits = value.to_bits();
    let exponent = i64::try_from((bits >> 52) & 0x7ff).unwrap_or(0) - 1075;
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    // |value| >= 1e18 > 2^53, so the exponent is positive: value = mantissa * 2^exponent.
    // Limbs are base 10^9, least significant first.
    let mut limbs: Vec<u64> = vec![mantissa % 1_000_000_000, mantissa / 1_000_000_000];
    for _ in 0..exponent.max(0) {
        let mut carry = 0;
        for limb in &mut limbs {
            let doubled = *limb * 2 + carry;
            *limb = doubled % 1_000_000_000;
            carry = doubled / 1_000_000_000;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut text = if value < 0.0 {
        "-".to_owned()
    } else {
        String::new()
    };
    let mut iter = limbs.iter().rev();
    if let Some(first) = iter.next() {
        text.push_str(&first.to_string());
    }
    for limb in iter {
        text.push_str(&format!("{limb:09}"));
    }
    text
}

/// `_fix_time_stamp_format`: an ISO 8601 date-time becomes UTC with exactly three fractional
/// digits and `Z`.
///
/// The reference parses with `dateutil.parser.parse`, which accepts many more layouts; this
/// port accepts the ISO 8601 extended layouts (`YYYY-MM-DD`, then `T`, `t` or a space, then
/// `hh:mm[:ss[.fraction]]`, then optional spaces and `Z`, `z`, `UTC`, `±hh`, `±hhmm` or
/// `±hh:mm`) and leaves other text unchanged, as the reference does with text dateutil cannot
/// parse. A time without a zone is taken as UTC (the reference uses the machine's zone).
/// Microseconds (the first six fractional digits) are rounded half to even to milliseconds.
pub(crate) fn fix_timestamp(text: &str) -> Result<String, ValueFailure> {
    let Some(parsed) = parse_iso_datetime(text) else {
        return Ok(text.to_owned());
    };
    if parsed.offset_minutes.abs() >= 24 * 60 {
        return Err(ValueFailure::Timestamp(text.to_owned()));
    }
    let millis = round_half_even_thousands(parsed.microsecond);
    if millis >= 1000 {
        return Err(ValueFailure::Timestamp(text.to_owned()));
    }
    let days = days_from_civil(parsed.year, parsed.month, parsed.day);
    let local_seconds =
        days * 86_400 + i64::from(parsed.hour * 3600 + parsed.minute * 60 + parsed.second);
    let utc_seconds = local_seconds - parsed.offset_minutes * 60;
    let (year, month, day) = civil_from_days(utc_seconds.div_euclid(86_400));
    if !(1..=9999).contains(&year) {
        return Err(ValueFailure::Timestamp(text.to_owned()));
    }
    let second_of_day = utc_seconds.rem_euclid(86_400);
    // `YYYY-MM-DDThh:mm:ss.mmmZ`; every number fits its width.
    let mut fixed = String::with_capacity(24);
    for (number, width, separator) in [
        (year, 4, '-'),
        (i64::from(month), 2, '-'),
        (i64::from(day), 2, 'T'),
        (second_of_day / 3600, 2, ':'),
        (second_of_day / 60 % 60, 2, ':'),
        (second_of_day % 60, 2, '.'),
        (i64::from(millis), 3, 'Z'),
    ] {
        push_zero_padded(&mut fixed, number, width);
        fixed.push(separator);
    }
    Ok(fixed)
}

/// Appends the decimal digits of `number` (`0 <= number < 10^width`) zero-padded to `width`,
/// as `format!("{number:0width$}")` does.
fn push_zero_padded(out: &mut String, number: i64, width: u32) {
    for position in (0..width).rev() {
        let digit = number / 10_i64.pow(position) % 10;
        out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
    }
}

#[derive(Debug, PartialEq, Eq)]
struct ParsedDateTime {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    microsecond: u32,
    offset_minutes: i64,
}

/// Parses the layouts of the pattern
/// `^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?)? *(?:([Zz]|UTC)|([+-])([0-9]{2})(?::?([0-9]{2}))?)?$`
/// (read by hand: each optional part is taken when present, as the pattern has only one way
/// to match), and checks the date and time ranges.
fn parse_iso_datetime(text: &str) -> Option<ParsedDateTime> {
    let bytes = text.as_bytes();
    // The value of the `n` ASCII digits at `from`, if they are there.
    let digits = |from: usize, n: usize| -> Option<u32> {
        let run = bytes.get(from..from + n)?;
        run.iter().try_fold(0u32, |value, &byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + u32::from(byte - b'0'))
        })
    };
    let year = i64::from(digits(0, 4)?);
    let month = digits(5, 2)?;
    let day = digits(8, 2)?;
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let mut position = 10;
    let (mut hour, mut minute, mut second, mut microsecond) = (0, 0, 0, 0);
    if matches!(bytes.get(position), Some(b'T' | b't' | b' '))
        && let Some(h) = digits(position + 1, 2)
        && bytes.get(position + 3) == Some(&b':')
        && let Some(m) = digits(position + 4, 2)
    {
        (hour, minute) = (h, m);
        position += 6;
        if bytes.get(position) == Some(&b':')
            && let Some(s) = digits(position + 1, 2)
        {
            second = s;
            position += 3;
            if matches!(bytes.get(position), Some(b'.' | b',')) {
                let fraction = &bytes[position + 1..];
                let n_digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
                if n_digits > 0 {
                    // The first six digits, padded with zeros.
                    microsecond = (0..6).fold(0, |value, index| {
                        let digit = fraction
                            .get(index)
                            .filter(|_| index < n_digits)
                            .map_or(0, |byte| u32::from(byte - b'0'));
                        value * 10 + digit
                    });
                    position += 1 + n_digits;
                }
            }
        }
    }
    while bytes.get(position) == Some(&b' ') {
        position += 1;
    }
    let mut offset_minutes = 0;
    match bytes.get(position) {
        Some(b'Z' | b'z') => position += 1,
        Some(b'U') if bytes[position..].starts_with(b"UTC") => position += 3,
        Some(&sign @ (b'+' | b'-')) => {
            let hours = digits(position + 1, 2)?;
            position += 3;
            let mut minutes = 0;
            if bytes.get(position) == Some(&b':')
                && let Some(m) = digits(position + 1, 2)
            {
                minutes = m;
                position += 3;
            } else if let Some(m) = digits(position, 2) {
                minutes = m;
                position += 2;
            }
            let magnitude = i64::from(hours) * 60 + i64::from(minutes);
            offset_minutes = if sign == b'-' { -magnitude } else { magnitude };
        }
        _ => {}
    }
    if position != bytes.len() {
        return None;
    }
    let valid = year >= 1
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then_some(ParsedDateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        microsecond,
        offset_minutes,
    })
}

/// Python's `round(microsecond, -3) // 1000`: ties go to the even millisecond.
fn round_half_even_thousands(microsecond: u32) -> u32 {
    let quotient = microsecond / 1000;
    let remainder = microsecond % 1000;
    match remainder.cmp(&500) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + quotient % 2,
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn patterns_compile() {
        assert_eq!(URN_PATTERNS.len(), 23);
        assert!(DL_SYNTAX.is_match("https://id.gs1.org/01/09506000134352"));
        assert_eq!(DL_MISC.len(), 9);
        assert_eq!(DL_VALID.len(), 21);
        for (segment, _) in DL_VALID.iter() {
            assert!(
                matches!(segment.len(), 4..=6) && segment.starts_with('/'),
                "{segment}"
            );
        }
        for pattern in URN_PATTERNS.iter() {
            assert_eq!(pattern.prefix.matches(':').count(), 4, "{}", pattern.prefix);
            assert!(pattern.prefix.starts_with("urn:epc:"), "{}", pattern.prefix);
        }
        assert_eq!(URN_PATTERNS[0].prefix, "urn:epc:id:sgtin:");
        assert_eq!(URN_PATTERNS[15].prefix, "urn:epc:class:lgtin:");
        assert_eq!(URN_PATTERNS[22].prefix, "urn:epc:idpat:upui:");
    }

    #[test]
    fn urns_become_digital_links() {
        let cases = [
            (
                "urn:epc:id:sgtin:0614141.107346.2017",
                "https://id.gs1.org/01/10614141073464/21/2017",
            ),
            (
                "urn:epc:id:sscc:0614141.1234567890",
                "https://id.gs1.org/00/106141412345678908",
            ),
            (
                "urn:epc:id:sgln:0614141.07346.1234",
                "https://id.gs1.org/414/0614141073467/254/1234",
            ),
            (
                "urn:epc:id:sgln:0614141.07346.0",
                "https://id.gs1.org/414/0614141073467",
            ),
            (
                "urn:epc:class:lgtin:4012345.012345.998877",
                "https://id.gs1.org/01/04012345123456/10/998877",
            ),
            (
                "urn:epc:idpat:sgtin:4012345.012345.*",
                "https://id.gs1.org/01/04012345123456",
            ),
        ];
        for (urn, expected) in cases {
            assert_eq!(dl_normalise(urn).as_deref(), Some(expected), "{urn}");
        }
        assert_eq!(
            dl_normalise("https://example.com/01/9506000134352/10/LOT/21/S1?17=270101").as_deref(),
            Some("https://id.gs1.org/01/09506000134352/21/S1")
        );
        assert_eq!(dl_normalise("no dot here"), None);
        assert_eq!(dl_normalise("https://example.com/x.y"), None);
    }

    #[test]
    fn numbers_follow_python() {
        let cases = [
            ("26.0", "26"),
            ("+1.50", "1.5"),
            ("1_000", "1000"),
            ("0.00001", "1e-05"),
            ("1e22", "10000000000000000000000"),
            ("1.2345678901234567e+29", "123456789012345677877719597056"),
            ("-0", "0"),
            ("0614141073467", "614141073467"),
            ("nan", "nan"),
            ("1__0", "1__0"),
            ("abc", "abc"),
            ("12.5e-1", "1.25"),
            ("123456789.123", "123456789.123"),
        ];
        for (text, expected) in cases {
            assert_eq!(format_numeric(text).as_deref(), Ok(expected), "{text}");
        }
        assert!(format_numeric("1e400").is_err());
        assert!(format_numeric("-inf").is_err());
        assert_eq!(py_float_repr(1e16), "1e+16");
        assert_eq!(py_float_repr(1e15), "1000000000000000.0");
        assert_eq!(py_float_repr(-0.0), "-0.0");
        assert_eq!(py_float_repr(0.0001), "0.0001");
        assert_eq!(py_float_repr(1.5e-7), "1.5e-07");
    }

    #[test]
    fn timestamps_follow_the_reference() {
        let cases = [
            ("2005-04-04T20:33:31.116-06:00", "2005-04-05T02:33:31.116Z"),
            ("2005-04-04T20:33:31.1165Z", "2005-04-04T20:33:31.116Z"),
            ("2005-04-04T20:33:31.1175Z", "2005-04-04T20:33:31.118Z"),
            ("2005-04-04T20:33Z", "2005-04-04T20:33:00.000Z"),
            ("2005-04-04", "2005-04-04T00:00:00.000Z"),
            ("2005-04-04T20:33:31+0530", "2005-04-04T15:03:31.000Z"),
            ("2005-04-04 20:33:31z", "2005-04-04T20:33:31.000Z"),
            ("2005-04-04T20:33:31,5Z", "2005-04-04T20:33:31.500Z"),
            ("2005-02-30T00:00:00Z", "2005-02-30T00:00:00Z"),
            ("2005-04-04T24:00:00Z", "2005-04-04T24:00:00Z"),
            ("2005-04-04T20:33:31.5-23:59", "2005-04-05T20:32:31.500Z"),
            ("2005-04-04T20:33:31 +01:00", "2005-04-04T19:33:31.000Z"),
            ("abc", "abc"),
        ];
        for (text, expected) in cases {
            assert_eq!(fix_timestamp(text), Ok(expected.to_owned()), "{text}");
        }
        assert!(fix_timestamp("2005-04-04T20:33:31.9999Z").is_err());
        assert!(fix_timestamp("0001-01-01T00:00:00+01:00").is_err());
        assert!(fix_timestamp("2005-04-04T20:33:31.5+24:00").is_err());
    }

    #[test]
    fn python_strip_includes_separators() {
        assert_eq!(py_strip("\u{1c} a \u{a0}\n"), "a");
    }

    /// [`DL_VALID_PATTERNS`] one by one, as the reference runs them.
    static DL_VALID_EACH: LazyLock<Vec<Regex>> = LazyLock::new(|| {
        DL_VALID_PATTERNS
            .iter()
            .map(|pattern| py_match_regex(pattern, false))
            .collect()
    });

    /// The normaliser as the reference runs it: every pattern in turn, with no literal
    /// guards and no pattern set.
    fn dl_normalise_unguarded(uri: &str) -> Option<String> {
        let partition = uri.find('.')?;
        for pattern in URN_PATTERNS.iter() {
            if pattern.regex.is_match(uri) {
                return Some(convert_urn(pattern.urn, uri, partition));
            }
        }
        if !DL_SYNTAX.is_match(uri) {
            return None;
        }
        let mut uri = match uri.find('?') {
            Some(query) => uri[..query].to_owned(),
            None => uri.to_owned(),
        };
        for (short, ai) in DL_SHORT_NAMES {
            uri = uri.replace(short, ai);
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
        if !gtin14.is_match(&uri) {
            if gtin13.is_match(&uri) {
                uri = uri.replace("/01/", "/01/0");
            } else if gtin12.is_match(&uri) {
                uri = uri.replace("/01/", "/01/00");
            } else if gtin8.is_match(&uri) {
                uri = uri.replace("/01/", "/01/000000");
            }
        }
        let after_cpv = py_slice(&uri, py_find(&uri, "/22/") + 4, None);
        if cpv_8006.is_match(&uri) || cpv_01.is_match(&uri) {
            let head = py_slice(&uri, 0, Some(py_find(&uri, "/22/")));
            uri = head + &py_slice(&after_cpv, py_find(&after_cpv, "/"), Some(-1));
        }
        if cpv_8006_more.is_match(&uri) || cpv_01_more.is_match(&uri) {
            let head = py_slice(&uri, 0, Some(py_find(&uri, "/22/")));
            uri = head + &py_slice(&after_cpv, py_find(&after_cpv, "/"), None);
        }
        if lot_and_serial.is_match(&uri) {
            let after_lot = py_slice(&uri, py_find(&uri, "/10/") + 4, None);
            let head = py_slice(&uri, 0, Some(py_find(&uri, "/10/")));
            uri = head + &py_slice(&after_lot, py_find(&after_lot, "/"), None);
        }
        DL_VALID_EACH
            .iter()
            .any(|pattern| pattern.is_match(&uri))
            .then_some(uri)
    }

    /// `_canonize_value` with the plain steps: owned strings, Python's `float()` through a
    /// lowercased copy, and the unguarded normaliser.
    fn canonize_value_plain(text: &str) -> Result<String, ValueFailure> {
        let text = text
            .replace(
                "urn:epcglobal:cbv:bizstep:",
                "https://ref.gs1.org/cbv/BizStep-",
            )
            .replace("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-")
            .replace("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-")
            .replace("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-")
            .replace("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-");
        let stripped = py_strip(&text);
        let (negative, body) = match stripped.as_bytes().first() {
            Some(b'-') => (true, &stripped[1..]),
            Some(b'+') => (false, &stripped[1..]),
            _ => (false, stripped),
        };
        let magnitude = match body.to_ascii_lowercase().as_str() {
            "inf" | "infinity" => Some(f64::INFINITY),
            "nan" => Some(f64::NAN),
            _ => parse_decimal_literal(body),
        };
        let text = match magnitude.map(|m| if negative { -m } else { m }) {
            Some(number) if number.is_infinite() => {
                return Err(ValueFailure::InfiniteNumber(text));
            }
            Some(number) if number.is_nan() => text,
            Some(number) if number.fract() == 0.0 => integral_f64_to_decimal(number),
            Some(number) => py_float_repr(number),
            None => text,
        };
        Ok(dl_normalise_unguarded(&text).unwrap_or(text))
    }

    /// Pieces of identifiers, numbers and timestamps, to be strung together into texts that
    /// come close to matching the normaliser's patterns.
    const FRAGMENTS: &[&str] = &[
        "https://",
        "http://",
        "https:",
        "id.gs1.org",
        "idXgs1Xorg",
        "example.com",
        "/01/",
        "/21/",
        "/10/",
        "/22/",
        "/8006/",
        "/414/",
        "/254/",
        "/gtin/",
        "/ser/",
        "/lot/",
        "/cpv/",
        "/00/",
        "/8003/",
        "/8004/",
        "/8010/",
        "/8011/",
        "/253/",
        "/255/",
        "/401/",
        "/402/",
        "/417/",
        "/8017/",
        "/8018/",
        "/235/",
        "/sscc/",
        "/gln/",
        "/itip/",
        "urn:epc:id:",
        "urn:epc:class:",
        "urn:epc:idpat:",
        "sgtin:",
        "sgln:",
        "sscc:",
        "lgtin:",
        "giai:",
        "grai:",
        "gdti:",
        "cpi:",
        "itip:",
        "upui:",
        "pgln:",
        "gsrn:",
        "gsrnp:",
        "sgcn:",
        "ginc:",
        "gsin:",
        ".",
        ".*",
        "%2F",
        "%3",
        "?",
        "?17=270101",
        "#",
        "\n",
        " ",
        "-",
        "/",
        "é",
        "\u{663}",
        "*",
        "!",
        "(",
        "ABC",
        "urn:epcglobal:cbv:",
        "bizstep:",
        "disp:",
        "btt:",
        "e",
        "E",
        "_",
        "+",
        "inf",
        "NaN",
        "abcdefghij",
        "0614141",
        "107346",
        "9506000134352",
        "09506000134352",
        "106141412345678908",
        "123456789012345678",
    ];

    fn near_identifier() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            3 => proptest::sample::select(FRAGMENTS).prop_map(str::to_owned),
            2 => "[0-9]{1,20}",
            1 => "[A-Za-z0-9%._-]{1,8}",
            1 => any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(piece, 1..9).prop_map(|pieces| pieces.concat())
    }

    /// Known identifiers of every kind the normaliser converts, and near misses.
    const IDENTIFIERS: &[&str] = &[
        "urn:epc:id:sgtin:0614141.107346.2017",
        "urn:epc:id:sgtin:0614141.107346.20%2F17\n",
        "urn:epc:id:sscc:0614141.1234567890",
        "urn:epc:id:sgln:0614141.07346.1234",
        "urn:epc:id:grai:0614141.12345.400",
        "urn:epc:id:giai:0614141.TANK8",
        "urn:epc:id:gsrn:0614141.1234567890",
        "urn:epc:id:gsrnp:0614141.1234567890",
        "urn:epc:id:gdti:0614141.12345.400",
        "urn:epc:id:cpi:0614141.123ABC.123456789",
        "urn:epc:id:sgcn:4012345.67890.04711",
        "urn:epc:id:ginc:0614141.xyz47%2F11",
        "urn:epc:id:gsin:0614141.123456789",
        "urn:epc:id:itip:4012345.012345.01.02.987",
        "urn:epc:id:upui:1234567.089456.51qIgY)%3C%26Jp3*j7'SDB",
        "urn:epc:id:pgln:1234567.89012",
        "urn:epc:class:lgtin:4012345.012345.998877",
        "urn:epc:idpat:sgtin:4012345.012345.*",
        "urn:epc:idpat:grai:4012345.12345.*",
        "urn:epc:idpat:gdti:4012345.12345.*",
        "urn:epc:idpat:sgcn:4012345.12345.*",
        "urn:epc:idpat:cpi:0614141.123ABC.*",
        "urn:epc:idpat:itip:4012345.012345.01.02.*",
        "urn:epc:idpat:upui:1234567.089456.*",
        "https://id.gs1.org/01/09506000134352/21/D1-5",
        "https://example.com/01/9506000134352/10/LOT/21/S1?17=270101",
        "http://example.com/gtin/506000134352/ser/1",
        "https://id.gs1.org/01/95060001/22/ABC/10/LOT",
        "https://id.gs1.org/8006/123456789012345678/22/X/21/1",
        "https://id.gs1.org/414/9506000134369/254/1",
        "https://id.gs1.org/8010/0614141ABC/8011/12",
        "https://idXgs1Xorg/01/09506000134352\n",
        "urn:epcglobal:cbv:bizstep:shipping",
        " 1_000.5e3 ",
        "-Infinity",
    ];

    /// Texts close to the canonical SGTIN Digital Link URI, in and out of its shape.
    fn near_canonical_sgtin() -> impl Strategy<Value = String> {
        let head = prop_oneof![
            4 => Just("https://id.gs1.org/01/"),
            1 => proptest::sample::select(&[
                "http://id.gs1.org/01/",
                "https://idXgs1.org/01/",
                "https://id.gs1.org/01",
                "https://example.com/01/",
            ][..]),
        ];
        let gtin = prop_oneof![4 => "[0-9]{14}", 1 => "[0-9]{12,15}|[0-9]{13}[a\u{663}]"];
        let ai = prop_oneof![
            4 => Just("/21/"),
            1 => proptest::sample::select(&["/10/", "/22/", "/21", "/235/", ""][..]),
        ];
        let serial = prop_oneof![
            3 => "[A-Za-z0-9_.-]{0,22}",
            1 => r#"[A-Za-z0-9_./?#:%\n *!'"\u{e9}-]{0,22}"#,
        ];
        let tail = prop_oneof![
            4 => Just(""),
            1 => proptest::sample::select(&["/10/L1", "?x=1", "#f", "/", "\n"][..]),
        ];
        (head, gtin, ai, serial, tail)
            .prop_map(|(head, gtin, ai, serial, tail)| format!("{head}{gtin}{ai}{serial}{tail}"))
    }

    /// Texts close to SGTIN URNs with plain serials, in and out of that shape.
    fn near_plain_sgtin_urn() -> impl Strategy<Value = String> {
        let head = prop_oneof![
            4 => Just("urn:epc:id:sgtin:"),
            1 => proptest::sample::select(&["urn:epc:id:sgtin", "urn:epc:idpat:sgtin:", "urn:epc:id:sgln:"][..]),
        ];
        (
            head,
            5..=13usize,
            prop_oneof![4 => Just(0), 1 => -1..=1isize],
            "[0-9]{16}",
            proptest::sample::select(&[".", ".", ".", "", ".."][..]),
            prop_oneof![3 => "[A-Za-z0-9]{0,22}", 1 => "[A-Za-z0-9%!'()*+,.:;=_\n-]{0,22}"],
        )
            .prop_map(|(head, company, change, digits, dot, serial)| {
                let item = (13 - company).saturating_add_signed(change);
                let (company, item) = (&digits[..company], &digits[company..company + item]);
                format!("{head}{company}.{item}{dot}{serial}")
            })
    }

    fn value_text() -> impl Strategy<Value = String> {
        prop_oneof![
            2 => near_identifier(),
            1 => near_canonical_sgtin(),
            1 => near_plain_sgtin_urn(),
            1 => proptest::sample::select(IDENTIFIERS).prop_map(str::to_owned),
            1 => (proptest::sample::select(IDENTIFIERS), "[0-9A-Za-z/.%\n*-]{0,4}", 0..40usize)
                .prop_map(|(text, insert, at)| {
                    let at = (0..=at.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                    format!("{}{insert}{}", &text[..at], &text[at..])
                }),
        ]
    }

    /// The timestamp pattern that [`parse_iso_datetime`] reads by hand.
    static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?)? *(?:([Zz]|UTC)|([+-])([0-9]{2})(?::?([0-9]{2}))?)?$",
        )
        .expect("timestamp pattern compiles")
    });

    /// [`parse_iso_datetime`] through the pattern's captures.
    fn parse_iso_datetime_by_pattern(text: &str) -> Option<ParsedDateTime> {
        let captures = TIMESTAMP.captures(text)?;
        let number = |index: usize| -> Option<u32> {
            captures
                .get(index)
                .map_or(Some(0), |m| m.as_str().parse().ok())
        };
        let year = i64::from(number(1)?);
        let month = number(2)?;
        let day = number(3)?;
        let hour = number(4)?;
        let minute = number(5)?;
        let second = number(6)?;
        let microsecond = captures.get(7).map_or(Some(0), |m| {
            let mut digits: String = m.as_str().chars().take(6).collect();
            while digits.len() < 6 {
                digits.push('0');
            }
            digits.parse().ok()
        })?;
        let offset_minutes = match captures.get(9) {
            Some(sign) => {
                let magnitude = i64::from(number(10)?) * 60 + i64::from(number(11)?);
                if sign.as_str() == "-" {
                    -magnitude
                } else {
                    magnitude
                }
            }
            None => 0,
        };
        let valid = year >= 1
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60;
        valid.then_some(ParsedDateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            microsecond,
            offset_minutes,
        })
    }

    /// Texts close to the layouts of the timestamp pattern.
    fn near_timestamp() -> impl Strategy<Value = String> {
        let select = |items: &'static [&'static str]| proptest::sample::select(items);
        let date = (
            "[0-9]{4}",
            select(&[
                "01", "02", "06", "12", "01", "02", "06", "12", "13", "00", "1",
            ]),
            select(&[
                "01", "15", "28", "29", "30", "31", "01", "15", "28", "00", "32",
            ]),
        )
            .prop_map(|(year, month, day)| format!("{year}-{month}-{day}"));
        let time = (
            select(&["T", "T", "t", " ", "  ", "x"]),
            select(&["00", "08", "23", "00", "08", "23", "24", "9"]),
            select(&["00", "30", "59", "00", "30", "59", "60"]),
            select(&["", ":00", ":59", "", ":00", ":59", ":60", ":5", ":"]),
            prop_oneof![4 => Just(String::new()), 4 => "[.,][0-9]{1,9}", 1 => "[.,]|:[0-9]{1,3}"],
        )
            .prop_map(|(separator, hour, minute, second, fraction)| {
                format!("{separator}{hour}:{minute}{second}{fraction}")
            });
        let piece = prop_oneof![
            2 => "[0-9]{1,4}",
            3 => select(&[
                "-", "T", "t", " ", ":", ".", ",", "Z", "z", "UTC", "+", "x", "\n", "\u{663}",
            ]).prop_map(str::to_owned),
        ];
        (
            prop_oneof![6 => date, 1 => "[0-9]{3,5}-[0-9]{1,3}-[0-9]{1,3}"],
            prop_oneof![4 => time, 1 => Just(String::new())],
            " {0,2}",
            select(&[
                "", "Z", "z", "UTC", "+08", "+0800", "+08:00", "-05:30", "-23:59", "", "Z",
                "+08:00", "utc", "+08:", "+080", "-0", "+24:00",
            ]),
            prop_oneof![6 => Just(String::new()), 1 => proptest::collection::vec(piece, 1..5).prop_map(|p| p.concat())],
        )
            .prop_map(|(date, time, spaces, zone, tail)| {
                format!("{date}{time}{spaces}{zone}{tail}")
            })
    }

    /// Python's slice through code point iterators, as the reference's `s[start:end]`.
    fn slice_by_chars(text: &str, start: usize, end: Option<usize>) -> String {
        let len = text.chars().count();
        let end = end.unwrap_or(len).min(len);
        let start = start.min(end);
        text.chars().skip(start).take(end - start).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The hand-written timestamp reader reads what the pattern matches.
        #[test]
        fn timestamps_are_read_as_the_pattern_reads_them(text in near_timestamp()) {
            prop_assert_eq!(parse_iso_datetime(&text), parse_iso_datetime_by_pattern(&text));
        }

        /// Slicing by bytes for ASCII text is slicing by code points.
        #[test]
        fn slices_are_code_point_slices(
            text in "[a-z0-9.]{0,12}|.{0,12}",
            start in 0..16usize,
            end in proptest::option::of(0..16usize),
        ) {
            prop_assert_eq!(slice(&text, start, end).into_owned(), slice_by_chars(&text, start, end));
        }

        /// One pass of percent-encoding is the reference's chain of replacements.
        #[test]
        fn percent_encoding_is_the_chain_of_replacements(text in "[!()*+,:%a-z0-9\u{e9}]{0,16}") {
            let chained = text
                .replace('!', "%21")
                .replace('(', "%28")
                .replace(')', "%29")
                .replace('*', "%2A")
                .replace('+', "%2B")
                .replace(',', "%2C")
                .replace(':', "%3A");
            prop_assert_eq!(percent_encode(&text).into_owned(), chained);
        }

        /// The literal guards, the pattern prefixes and the pattern set change no result.
        #[test]
        fn guarded_normaliser_is_the_unguarded_one(text in value_text()) {
            prop_assert_eq!(dl_normalise(&text), dl_normalise_unguarded(&text));
        }

        /// Borrowed intermediate texts and the early rejection of non-numbers change no
        /// result, and neither does the memo.
        #[test]
        fn canonical_values_are_the_plain_ones(texts in proptest::collection::vec(value_text(), 1..6)) {
            let mut cache = ValueCache::default();
            // Each text twice: once converted, once from the memo.
            for text in texts.iter().chain(&texts) {
                let expected = canonize_value_plain(text);
                prop_assert_eq!(&canonize_value(text), &expected);
                let mut out = String::from("x");
                let pushed = cache.push_value(text, &mut out);
                match &expected {
                    Ok(value) => {
                        prop_assert_eq!(pushed, Ok(()));
                        prop_assert_eq!(&out[1..], value.as_str());
                    }
                    Err(failure) => prop_assert_eq!(pushed, Err(failure.clone())),
                }
            }
        }
    }
}
