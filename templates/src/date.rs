//! Calendar dates (`YYYY-MM-DD`, proleptic Gregorian), parsed and compared without a clock.

use std::fmt;

/// A calendar date in the proleptic Gregorian calendar, years 0001 to 9999.
///
/// Dates order chronologically. The validator takes "today" as a `Date` argument, so this crate
/// never reads the clock; [`Date::from_epoch_secs`] converts the caller's clock reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// The date `year-month-day`, or `None` if it does not exist (`2023-02-29`, month 13, year 0).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Self { year, month, day })
    }

    /// Parses exactly `YYYY-MM-DD` (ISO 8601 calendar date, extended format, four-digit year).
    /// Returns `None` for any other shape or for a date that does not exist.
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |range: std::ops::Range<usize>| -> Option<u16> {
            b[range].iter().try_fold(0u16, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0'))
            })
        };
        let year = digits(0..4)?;
        let month = u8::try_from(digits(5..7)?).ok()?;
        let day = u8::try_from(digits(8..10)?).ok()?;
        Self::new(year, month, day)
    }

    /// The UTC date of an instant given in seconds since 1970-01-01T00:00:00Z, or `None` past
    /// the year 9999.
    pub fn from_epoch_secs(secs: u64) -> Option<Self> {
        let days = i64::try_from(secs / 86_400).ok()?;
        // Howard Hinnant's `civil_from_days`, valid for every day count reached here.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self::new(
            u16::try_from(year).ok()?,
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
        )
    }

    /// The year, 1 to 9999.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, 1 to 31.
    pub fn day(self) -> u8 {
        self.day
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Whether `year` is a Gregorian leap year.
fn is_leap(year: u16) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// The number of days of `month` (1 to 12) in `year`.
fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_dates_only() {
        assert_eq!(Date::parse("2024-02-29"), Date::new(2024, 2, 29));
        assert!(Date::parse("2024-02-29").is_some());
        assert!(Date::parse("2000-02-29").is_some());
        assert!(Date::parse("1900-02-29").is_none());
        assert!(Date::parse("2023-02-29").is_none());
        assert!(Date::parse("2023-04-31").is_none());
        assert!(Date::parse("2023-13-01").is_none());
        assert!(Date::parse("2023-00-10").is_none());
        assert!(Date::parse("2023-01-00").is_none());
        assert!(Date::parse("0000-01-01").is_none());
        assert!(Date::parse("2023-1-01").is_none());
        assert!(Date::parse("2023/01/01").is_none());
        assert!(Date::parse("2023-01-01T00:00").is_none());
        assert!(Date::parse("+023-01-01").is_none());
        assert!(Date::parse("２０２３-01-01").is_none());
    }

    #[test]
    fn displays_and_orders() {
        let a = Date::parse("2023-12-31").unwrap();
        let b = Date::parse("2024-01-01").unwrap();
        assert!(a < b);
        assert_eq!(a.to_string(), "2023-12-31");
        assert_eq!(Date::new(5, 3, 7).unwrap().to_string(), "0005-03-07");
    }

    #[test]
    fn converts_epoch_seconds() {
        assert_eq!(Date::from_epoch_secs(0), Date::new(1970, 1, 1));
        assert_eq!(Date::from_epoch_secs(951_782_400), Date::new(2000, 2, 29));
        assert_eq!(
            Date::from_epoch_secs(1_700_000_000),
            Date::new(2023, 11, 14)
        );
        assert_eq!(
            Date::from_epoch_secs(253_402_300_799),
            Date::new(9999, 12, 31)
        );
        assert_eq!(Date::from_epoch_secs(253_402_300_800), None);
        assert_eq!(Date::from_epoch_secs(u64::MAX), None);
    }
}
