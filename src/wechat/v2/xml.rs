//! The APIv2 envelope: one `<xml>` root holding one level of text fields (protocol reference
//! §9.1; `docs/protocol.md`, "APIv2 (XML)").
//!
//! Reading is a pull parse (quick-xml, which has no DTD support at all) with our own limits on
//! top: a size cap, no `<!DOCTYPE` (so no `<!ENTITY`: the XXE class WeChat Pay warned merchants
//! about), only the five predefined entities and character references, exactly one level of
//! fields under `<xml>`, no duplicate field. Values may be CDATA, escaped text, or both.
//!
//! Writing puts every value in CDATA (a `]]>` inside a value is split across two sections) in
//! the order of the map, which is the sorted order the signature uses.

use quick_xml::Reader;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::Event;

use super::Fields;

/// The largest envelope read. A micropay or query answer is a few kilobytes; a refund query
/// lists at most a page of refunds.
pub const MAX_XML_BYTES: usize = 64 * 1024;

/// The root element's name.
pub const ROOT: &str = "xml";

/// Why an envelope could not be read or written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    /// Larger than [`MAX_XML_BYTES`].
    #[error("the XML is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Bytes received.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Not UTF-8 (APIv2 is UTF-8 only).
    #[error("the XML is not UTF-8")]
    NotUtf8,
    /// A document type declaration (and with it any entity declaration): refused outright.
    #[error("the XML declares a document type or entities, which is refused")]
    Doctype,
    /// A reference to an entity other than the five predefined ones.
    #[error("the XML refers to an undeclared entity &{0};")]
    Entity(String),
    /// The root element is not `<xml>`.
    #[error("the root element is <{0}>, not <xml>")]
    Root(String),
    /// An element inside a field: APIv2 fields are flat.
    #[error("field <{0}> contains an element")]
    Nested(String),
    /// The same field twice.
    #[error("field <{0}> appears twice")]
    Duplicate(String),
    /// Text or CDATA directly under `<xml>` or outside it.
    #[error("text outside a field")]
    StrayText,
    /// Anything after `</xml>` other than whitespace and comments.
    #[error("content after </xml>")]
    Trailing,
    /// The document ends before `</xml>`, or is empty.
    #[error("the XML ends before </xml>")]
    Truncated,
    /// Not well-formed XML.
    #[error("malformed XML: {0}")]
    Syntax(String),
    /// Writing: a field name that is not a plain XML name (`[A-Za-z_][A-Za-z0-9_]*`).
    #[error("field name {0:?} cannot be written")]
    Name(String),
    /// Writing: a value with a character XML 1.0 cannot carry, or a carriage return (which every
    /// XML reader turns into a line feed, so the signature would no longer match).
    #[error("field <{0}> holds a character that cannot be sent in XML")]
    Unwritable(String),
}

/// Reads an envelope into its fields.
pub fn parse(bytes: &[u8]) -> Result<Fields, XmlError> {
    if bytes.len() > MAX_XML_BYTES {
        return Err(XmlError::TooLarge {
            len: bytes.len(),
            max: MAX_XML_BYTES,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let mut fields = Fields::new();
    // Outside: before <xml>; Root: between fields; Field: inside one; Done: after </xml>.
    enum At {
        Outside,
        Root,
        Field(String, String),
        Done,
    }
    let mut at = At::Outside;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| XmlError::Syntax(e.to_string()))?;
        at = match (at, event) {
            (_, Event::DocType(_)) => return Err(XmlError::Doctype),
            (At::Field(name, _), Event::Start(_) | Event::Empty(_)) => {
                return Err(XmlError::Nested(name));
            }
            (At::Field(name, mut value), Event::Text(t)) => {
                value.push_str(&t.xml10_content());
                At::Field(name, value)
            }
            (At::Field(name, mut value), Event::CData(c)) => {
                value.push_str(&c.xml10_content());
                At::Field(name, value)
            }
            (At::Field(name, mut value), Event::GeneralRef(r)) => {
                match r
                    .resolve_char_ref()
                    .map_err(|e| XmlError::Syntax(e.to_string()))?
                {
                    Some(c) => value.push(c),
                    None => match resolve_xml_entity(&r) {
                        Some(s) => value.push_str(s),
                        None => return Err(XmlError::Entity(r.to_string())),
                    },
                }
                At::Field(name, value)
            }
            (At::Field(name, value), Event::End(_)) => {
                insert(&mut fields, name, value)?;
                At::Root
            }
            (at @ At::Field(..), Event::Comment(_)) => at,
            (At::Outside, Event::Start(e)) => {
                let name = e.name().into_inner();
                if name != ROOT {
                    return Err(XmlError::Root(name.to_string()));
                }
                At::Root
            }
            (At::Outside, Event::Empty(e)) => {
                let name = e.name().into_inner();
                if name != ROOT {
                    return Err(XmlError::Root(name.to_string()));
                }
                At::Done
            }
            (At::Root, Event::Start(e)) => {
                At::Field(e.name().into_inner().to_string(), String::new())
            }
            (At::Root, Event::Empty(e)) => {
                insert(
                    &mut fields,
                    e.name().into_inner().to_string(),
                    String::new(),
                )?;
                At::Root
            }
            (At::Root, Event::End(_)) => At::Done,
            (at @ (At::Outside | At::Root | At::Done), Event::Text(t)) => {
                if !t.xml10_content().chars().all(char::is_whitespace) {
                    return Err(if matches!(at, At::Done) {
                        XmlError::Trailing
                    } else {
                        XmlError::StrayText
                    });
                }
                at
            }
            (At::Outside | At::Root, Event::CData(_) | Event::GeneralRef(_)) => {
                return Err(XmlError::StrayText);
            }
            (At::Outside, Event::Decl(_)) => At::Outside,
            (at @ (At::Outside | At::Root | At::Done), Event::Comment(_)) => at,
            (At::Done, Event::Eof) => return Ok(fields),
            (_, Event::Eof) => return Err(XmlError::Truncated),
            (At::Done, _) => return Err(XmlError::Trailing),
            (At::Outside, Event::End(_)) => return Err(XmlError::Syntax("end tag first".into())),
            (_, Event::PI(_) | Event::Decl(_)) => {
                return Err(XmlError::Syntax("processing instruction".into()));
            }
        };
    }
}

fn insert(fields: &mut Fields, name: String, value: String) -> Result<(), XmlError> {
    if fields.contains_key(&name) {
        return Err(XmlError::Duplicate(name));
    }
    fields.insert(name, value);
    Ok(())
}

/// Whether `name` can be written as a field (`[A-Za-z_][A-Za-z0-9_]*`; every APIv2 field is).
pub fn is_field_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.to_ascii_lowercase().starts_with("xml")
}

/// Whether `c` may appear in a written value: the XML 1.0 `Char` production without `\r`.
fn writable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// Writes the envelope: `<xml><name><![CDATA[value]]></name>…</xml>` in map order, no
/// whitespace between fields. Empty values are written as empty fields (requests leave them out
/// before this).
pub fn write(fields: &Fields) -> Result<String, XmlError> {
    let mut out = String::with_capacity(
        64 + fields
            .iter()
            .map(|(k, v)| 2 * k.len() + v.len() + 17)
            .sum::<usize>(),
    );
    out.push_str("<xml>");
    for (name, value) in fields {
        if !is_field_name(name) {
            return Err(XmlError::Name(name.clone()));
        }
        if !value.chars().all(writable) {
            return Err(XmlError::Unwritable(name.clone()));
        }
        out.push('<');
        out.push_str(name);
        out.push('>');
        out.push_str("<![CDATA[");
        // `]]>` ends a section: close after `]]`, reopen before `>`.
        out.push_str(&value.replace("]]>", "]]]]><![CDATA[>"));
        out.push_str("]]>");
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
    out.push_str("</xml>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn one(k: &str, v: &str) -> Fields {
        [(k.to_string(), v.to_string())].into_iter().collect()
    }

    #[test]
    fn reads_cdata_escaped_text_and_mixed_values() {
        let f = parse(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xml>\n  <a><![CDATA[x<y & z]]></a>\n  \
              <b>1 &lt; 2 &amp;&amp; &#x4E2D;&#25991; &quot;&apos;&gt;</b>\n  \
              <c>pre<![CDATA[<mid>]]>post</c><d/><e></e><!-- note -->\n</xml>\n",
        )
        .unwrap();
        assert_eq!(f["a"], "x<y & z");
        assert_eq!(f["b"], "1 < 2 && 中文 \"'>");
        assert_eq!(f["c"], "pre<mid>post");
        assert_eq!(f["d"], "");
        assert_eq!(f["e"], "");
        assert_eq!(f.len(), 5);
        // Whitespace inside a value is kept as sent.
        assert_eq!(parse(b"<xml><a> v </a></xml>").unwrap()["a"], " v ");
        assert_eq!(parse(b"<xml/>").unwrap(), Fields::new());
    }

    #[test]
    fn refuses_doctype_and_entities_outright() {
        let xxe =
            b"<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
                    <xml><a>&x;</a></xml>";
        assert_eq!(parse(xxe), Err(XmlError::Doctype));
        let bomb =
            b"<!DOCTYPE xml [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]><xml><a>&b;</a></xml>";
        assert_eq!(parse(bomb), Err(XmlError::Doctype));
        // An entity that was never declared is not guessed at.
        assert_eq!(
            parse(b"<xml><a>&x;</a></xml>"),
            Err(XmlError::Entity("x".into()))
        );
        assert!(parse(b"<xml><a>&nbsp;</a></xml>").is_err());
        // An entity declaration anywhere else is not XML at all.
        assert!(parse(b"<xml><!ENTITY x \"y\"><a>1</a></xml>").is_err());
    }

    #[test]
    fn refuses_shapes_that_are_not_the_flat_envelope() {
        assert_eq!(
            parse(b"<xml><a>1</a><a>2</a></xml>"),
            Err(XmlError::Duplicate("a".into()))
        );
        assert_eq!(
            parse(b"<xml><a><b>1</b></a></xml>"),
            Err(XmlError::Nested("a".into()))
        );
        assert_eq!(
            parse(b"<root><a>1</a></root>"),
            Err(XmlError::Root("root".into()))
        );
        assert_eq!(parse(b"<xml>loose<a>1</a></xml>"), Err(XmlError::StrayText));
        assert_eq!(parse(b"<xml><a>1</a></xml><xml/>"), Err(XmlError::Trailing));
        assert_eq!(parse(b"<xml><a>1</a></xml>junk"), Err(XmlError::Trailing));
        assert_eq!(parse(b"<xml><a>1</a>"), Err(XmlError::Truncated));
        assert_eq!(parse(b""), Err(XmlError::Truncated));
        assert!(matches!(
            parse(b"<xml><a>1</b></xml>"),
            Err(XmlError::Syntax(_))
        ));
        assert_eq!(parse(b"<xml><a>\xff</a></xml>"), Err(XmlError::NotUtf8));
        let big = format!("<xml><a>{}</a></xml>", "x".repeat(MAX_XML_BYTES));
        assert!(matches!(
            parse(big.as_bytes()),
            Err(XmlError::TooLarge { .. })
        ));
    }

    #[test]
    fn writes_cdata_and_survives_cdata_terminators() {
        let f = one("body", "a]]>b]]]>c");
        let xml = write(&f).unwrap();
        assert_eq!(
            xml,
            "<xml><body><![CDATA[a]]]]><![CDATA[>b]]]]]><![CDATA[>c]]></body></xml>"
        );
        assert_eq!(parse(xml.as_bytes()).unwrap(), f);
        assert_eq!(write(&one("a b", "1")), Err(XmlError::Name("a b".into())));
        assert_eq!(write(&one("xmlx", "1")), Err(XmlError::Name("xmlx".into())));
        assert_eq!(
            write(&one("a", "1\r\n")),
            Err(XmlError::Unwritable("a".into()))
        );
        assert_eq!(
            write(&one("a", "\u{1}")),
            Err(XmlError::Unwritable("a".into()))
        );
    }

    fn printable_fields() -> impl Strategy<Value = Fields> {
        proptest::collection::btree_map(
            "[a-z_][a-z0-9_]{0,12}".prop_filter("not xml…", |k| !k.starts_with("xml")),
            // Printable text, CDATA terminators and markup characters included.
            "([ -~]|\\]\\]>|中|文|\t|\n){0,24}",
            0..12,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn printable_fields_round_trip(fields in printable_fields()) {
            let xml = write(&fields).unwrap();
            prop_assert_eq!(parse(xml.as_bytes()).unwrap(), fields);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn whatever_parses_and_writes_reads_back_the_same(s in "<xml>(<[a-c]>([ -~]|&(amp|lt|gt|quot|apos|#x4E2D|#13|#1);|<!\\[CDATA\\[[ -~]{0,6}\\]\\]>){0,6}</[a-c]>|<[a-c]/>|\n){0,6}</xml>") {
            if let Ok(fields) = parse(s.as_bytes())
                && let Ok(text) = write(&fields)
            {
                    prop_assert_eq!(parse(text.as_bytes()).ok(), Some(fields));
            }
        }

        #[test]
        fn parse_never_panics_on_near_xml(s in "(<xml>|</xml>|<a>|</a>|<!\\[CDATA\\[|\\]\\]>|&[a-z#0-9]{0,5};|<!DOCTYPE|<!--|-->|<\\?|[ -~]){0,40}") {
            let _ = parse(s.as_bytes());
        }
    }
}
