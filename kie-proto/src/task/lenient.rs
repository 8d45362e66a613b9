//! Reading fields whose type the pages disagree on: text that may be a number, numbers
//! that may be text, URL lists that may be one string, a JSON-encoded string or an array,
//! times that may be epoch seconds, epoch milliseconds or `"YYYY-MM-DD HH:mm:ss"`.

use serde_json::Value;

/// URLs from a string or an array of strings (others ignored).
pub(super) fn urls(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(url)) if !url.is_empty() => vec![url.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// A non-empty string.
pub(super) fn text(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// A non-empty string, or a number as text.
pub(super) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer, an integral float or a numeric string.
pub(super) fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A finite number or numeric string.
pub(super) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

/// URLs from an array of strings, or a string holding one (a JSON array as text,
/// `"[https://a, https://b]"` without quotes, or a single URL), as Veo's
/// `resultUrls` arrive in every documented form.
pub(super) fn url_list(value: Option<&Value>) -> Vec<String> {
    let Some(Value::String(text)) = value else {
        return urls(value);
    };
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) {
        return urls(Some(&Value::Array(items)));
    }
    let inner = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(text);
    inner
        .split(',')
        .map(|url| url.trim().trim_matches('"').trim())
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A time as epoch milliseconds: a number or numeric text (seconds when below 10^11, else
/// milliseconds), or `"YYYY-MM-DD HH:mm:ss"` (read as UTC: the pages name no zone).
pub(super) fn epoch_ms(value: &Value) -> Option<i64> {
    if let Some(number) = integer(value) {
        return Some(if number.abs() < 100_000_000_000 {
            number.saturating_mul(1000)
        } else {
            number
        });
    }
    let text = value.as_str()?.trim();
    let (date, time) = text.split_once([' ', 'T'])?;
    let mut date = date.splitn(3, '-').map(|part| part.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let time = time.trim_end_matches('Z');
    let mut time = time.splitn(3, ':').map(|part| part.parse::<f64>().ok());
    let (hour, minute, second) = (
        time.next()??,
        time.next()??,
        time.next().flatten().unwrap_or(0.0),
    );
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0.0..24.0).contains(&hour)
        && (0.0..60.0).contains(&minute)
        && (0.0..61.0).contains(&second);
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + (hour as i64) * 3600 + (minute as i64) * 60;
    Some(seconds * 1000 + (second * 1000.0) as i64)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_lists_read_in_every_documented_form() {
        let both = vec!["https://a/1.mp4".to_owned(), "https://a/2.mp4".to_owned()];
        for value in [
            json!(["https://a/1.mp4", "https://a/2.mp4"]),
            json!("[\"https://a/1.mp4\",\"https://a/2.mp4\"]"),
            json!("[https://a/1.mp4, https://a/2.mp4]"),
        ] {
            assert_eq!(url_list(Some(&value)), both, "{value}");
        }
        assert_eq!(
            url_list(Some(&json!("https://a/1.mp4"))),
            vec!["https://a/1.mp4"]
        );
        assert!(url_list(Some(&json!(""))).is_empty());
        assert!(url_list(Some(&json!("[]"))).is_empty());
        assert!(url_list(Some(&Value::Null)).is_empty());
        assert!(url_list(None).is_empty());
    }

    #[test]
    fn times_read_as_epoch_milliseconds() {
        assert_eq!(
            epoch_ms(&json!(1_757_584_164_490_i64)),
            Some(1_757_584_164_490)
        );
        assert_eq!(epoch_ms(&json!("1757584164490")), Some(1_757_584_164_490));
        assert_eq!(epoch_ms(&json!(1_757_584_164)), Some(1_757_584_164_000));
        // The Veo example's form, read as UTC.
        assert_eq!(
            epoch_ms(&json!("2025-06-06 10:30:00")),
            Some(1_749_205_800_000)
        );
        assert_eq!(epoch_ms(&json!("1970-01-01 00:00:00")), Some(0));
        assert_eq!(
            epoch_ms(&json!("2024-02-29T23:59:59Z")),
            Some(1_709_251_199_000)
        );
        for bad in [
            json!("yesterday"),
            json!("2025-13-01 00:00:00"),
            json!("2025-06-06"),
            json!(null),
            json!(true),
        ] {
            assert_eq!(epoch_ms(&bad), None, "{bad}");
        }
    }
}
