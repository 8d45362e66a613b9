//! Reading the `base64Data` field of the base64 upload (spec §2.2): a bare standard base64
//! string, or a data URL `data:<mime>;base64,<base64>` (RFC 2397). The SDK only writes this
//! field; emulators, tests and fuzz targets read it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Splits a base64 data URL into its media type and its base64 payload.
///
/// The `data:` scheme and the `;base64` marker are matched case-insensitively; the media
/// type is returned as written (it may be empty, or carry parameters such as
/// `;charset=utf-8`). Returns `None` for anything that is not a base64 data URL, including
/// data URLs whose payload is percent-encoded text rather than base64. The payload is not
/// checked here; see [`decode_base64_data`].
///
/// ```
/// use kie_proto::parse_data_url;
/// assert_eq!(parse_data_url("data:image/png;base64,iVBORw0KGgo="), Some(("image/png", "iVBORw0KGgo=")));
/// assert_eq!(parse_data_url("DATA:;BASE64,"), Some(("", "")));
/// assert_eq!(parse_data_url("data:text/plain,hello"), None);
/// assert_eq!(parse_data_url("iVBORw0KGgo="), None);
/// ```
pub fn parse_data_url(text: &str) -> Option<(&str, &str)> {
    let scheme = text.get(..5)?;
    if !scheme.eq_ignore_ascii_case("data:") {
        return None;
    }
    let (meta, payload) = text[5..].split_once(',')?;
    let marker = meta.len().checked_sub(";base64".len())?;
    let (mime, base64) = (meta.get(..marker)?, meta.get(marker..)?);
    base64
        .eq_ignore_ascii_case(";base64")
        .then_some((mime, payload))
}

/// Decodes a `base64Data` value: a data URL's payload (see [`parse_data_url`]) or, when the
/// text does not start with `data:`, the whole text, as standard base64 with padding
/// (RFC 4648 §4, no whitespace). `None` when the text is not valid.
///
/// ```
/// use kie_proto::decode_base64_data;
/// assert_eq!(decode_base64_data("aGk=").as_deref(), Some(&b"hi"[..]));
/// assert_eq!(decode_base64_data("data:text/plain;base64,aGk=").as_deref(), Some(&b"hi"[..]));
/// assert_eq!(decode_base64_data("data:text/plain,hi"), None);
/// assert_eq!(decode_base64_data("aGk"), None);
/// ```
pub fn decode_base64_data(text: &str) -> Option<Vec<u8>> {
    let is_data_url = text
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"));
    let payload = if is_data_url {
        parse_data_url(text)?.1
    } else {
        text
    };
    STANDARD.decode(payload).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls() {
        assert_eq!(
            parse_data_url("data:image/png;base64,AAAA"),
            Some(("image/png", "AAAA"))
        );
        assert_eq!(
            parse_data_url("Data:text/plain;charset=utf-8;Base64,aGk="),
            Some(("text/plain;charset=utf-8", "aGk="))
        );
        assert_eq!(parse_data_url("data:;base64,"), Some(("", "")));
        assert_eq!(parse_data_url("data:a/b;base64,x,y"), Some(("a/b", "x,y")));
        for bad in [
            "",
            "data",
            "data:",
            "data:image/png",
            "data:image/png;base64",
            "dat:a;base64,",
            "data:image/png;bas64,AA",
            "data:ü;base6,",
            "data:image/png,AAAA",
            "xdata:;base64,",
        ] {
            assert_eq!(parse_data_url(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn multibyte_text_never_panics() {
        for text in ["dataü", "daü", "data:ü", "data:üü;base64,", "data:ü,", "ü"] {
            let _ = parse_data_url(text);
            let _ = decode_base64_data(text);
        }
        assert_eq!(parse_data_url("data:ü;base64,QQ=="), Some(("ü", "QQ==")));
    }

    #[test]
    fn decoding() {
        assert_eq!(decode_base64_data("").as_deref(), Some(&[][..]));
        assert_eq!(decode_base64_data("/w==").as_deref(), Some(&[0xff][..]));
        assert_eq!(
            decode_base64_data("data:image/png;base64,/w==").as_deref(),
            Some(&[0xff][..])
        );
        for bad in [
            "_w==",
            "/w",
            "/w= =",
            "data:image/png,/w==",
            "data:image/png;base64,_w==",
        ] {
            assert_eq!(decode_base64_data(bad), None, "{bad:?}");
        }
    }
}
