//! RFC 3339 times as microseconds since the epoch: the one shape the contract writes
//! (`YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`); anything else is refused, and the envelope
//! then goes to the Python reading, which decides.

/// Days from 1970-01-01 to the civil date (proleptic Gregorian; H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = (month + 9) % 12;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

fn digits(text: &[u8], from: usize, count: usize) -> Option<i64> {
    let part = text.get(from..from + count)?;
    part.iter().try_fold(0i64, |total, &c| {
        c.is_ascii_digit().then(|| total * 10 + i64::from(c - b'0'))
    })
}

/// Microseconds since the epoch, for times from 1970 to 2299.
pub fn micros(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (hour, minute, second) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if !(1970..2300).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut at = 19;
    let mut fraction = 0i64;
    if b[at] == b'.' {
        let count = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if count == 0 || count > 6 {
            return None;
        }
        fraction = digits(b, at + 1, count)? * 10i64.pow(6 - count as u32);
        at += 1 + count;
    }
    let offset_s = match b.get(at..)? {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (digits(b, at + 1, 2)?, digits(b, at + 4, 2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'+' {
                offset
            } else {
                -offset
            }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let utc = seconds - offset_s;
    (utc >= 0).then_some(utc * 1_000_000 + fraction)
}

#[cfg(test)]
mod tests {
    use super::micros;

    #[test]
    fn reads_the_contract_shape() {
        assert_eq!(micros("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            micros("2001-02-03T04:05:06.789Z"),
            Some(981_173_106_789_000)
        );
        assert_eq!(
            micros("2001-02-03T06:05:06.789+02:00"),
            Some(981_173_106_789_000)
        );
        assert_eq!(
            micros("2024-02-29T00:00:00.000001Z"),
            Some(1_709_164_800_000_001)
        );
    }

    #[test]
    fn refuses_what_it_cannot_read_exactly() {
        for text in [
            "2023-02-29T00:00:00Z",
            "2001-02-03 04:05:06Z",
            "2001-02-03T04:05:06",
            "2001-02-03T04:05:06.1234567Z",
            "1969-12-31T23:59:59Z",
            "2001-02-03T04:05:06+0200",
        ] {
            assert_eq!(micros(text), None, "{text}");
        }
    }
}
