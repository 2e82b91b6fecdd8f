#![no_main]
//! The bounded APIv2 XML parser itself (`scanpay::wechat::v2::xml`): never panics, never
//! recurses, and its limits hold whatever the bytes: what parses writes back and reads to the
//! same fields; the same bytes (UTF-8) behind a document type declaration are refused as `Doctype`;
//! the same bytes padded past the cap are refused as `TooLarge` before any parsing; the same
//! bytes as the content of a field are never a second level of fields.
use libfuzzer_sys::fuzz_target;
use scanpay::wechat::v2::xml::{self, MAX_XML_BYTES, XmlError};

fuzz_target!(|data: &[u8]| {
    let parsed = xml::parse(data);
    if let Ok(fields) = &parsed
        && let Ok(text) = xml::write(fields)
    {
        assert_eq!(xml::parse(text.as_bytes()).as_ref(), Ok(fields));
    }

    // DTD refusal: an internal subset declaring an entity, then the input.
    let mut dtd = b"<!DOCTYPE xml [<!ENTITY e \"x\">]>".to_vec();
    dtd.extend_from_slice(data);
    if dtd.len() <= MAX_XML_BYTES {
        let expected = if std::str::from_utf8(data).is_ok() {
            XmlError::Doctype
        } else {
            XmlError::NotUtf8
        };
        assert_eq!(xml::parse(&dtd), Err(expected));
    }

    // Size cap: checked before anything else (only sometimes: it costs a 64 KiB copy).
    if data.first().is_some_and(|b| b % 8 == 0) && data.len() <= MAX_XML_BYTES {
        let mut big = data.to_vec();
        big.resize(MAX_XML_BYTES + 1, b' ');
        assert_eq!(
            xml::parse(&big),
            Err(XmlError::TooLarge {
                len: MAX_XML_BYTES + 1,
                max: MAX_XML_BYTES
            })
        );
    }

    // Depth: inside a field the input may only be text; any element there is refused.
    let mut nested = b"<xml><f>".to_vec();
    nested.extend_from_slice(data);
    nested.extend_from_slice(b"</f></xml>");
    if let Ok(fields) = xml::parse(&nested) {
        assert!(fields.len() == 1 && fields.contains_key("f"), "{fields:?}");
    }
});
