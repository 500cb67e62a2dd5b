//! Reading a ninjs object back (see the parent's table): every error names the field.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{ARTICLE_URN, AUTHOR_URN, MAX_ENTRIES, MAX_URI};
use crate::domain::{ArticleId, ArticleStatus, AuthorId};
use crate::transfer::FieldError;

/// A ninjs object read as the article version it describes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Incoming {
    /// The article: from a morgue `uri`, or a hash of any other.
    pub id: ArticleId,
    /// The `uri` as given.
    pub uri: String,
    /// The `version` as given.
    pub version: Option<String>,
    /// The `slugline` as given (the archive makes a slug of it for a new article).
    pub slugline: Option<String>,
    /// Headline.
    pub headline: String,
    /// Summary.
    pub summary: Option<String>,
    /// Body (Markdown).
    pub body: String,
    /// Section.
    pub section: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Language.
    pub language: Option<String>,
    /// `Draft` (withheld), `Published` (usable) or `Retracted` (canceled).
    pub status: ArticleStatus,
    /// Bylines, in order.
    pub bylines: Vec<IncomingByline>,
    /// Corrections, oldest first.
    pub corrections: Vec<String>,
    /// The retraction notice, when given.
    pub retraction: Option<String>,
    /// When the article was first published (or drafted, for a draft).
    pub first_created: DateTime<Utc>,
    /// When this version took effect.
    pub content_created: DateTime<Utc>,
    /// The ninjs field each instant came from (`firstCreated`, ...), for errors.
    pub first_field: &'static str,
    /// See `first_field`.
    pub content_field: &'static str,
}

/// A byline read from `people` (or `by`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IncomingByline {
    /// The name.
    pub name: String,
    /// The role (`rel`).
    pub role: Option<String>,
    /// The author a morgue `uri` names.
    pub author: Option<AuthorId>,
    /// Where it was read (`people[1]`, `by`), for errors.
    pub field: String,
}

impl Incoming {
    /// The line's identity: a hash of everything read from it (not of its formatting), so the
    /// same item imported again is recognised.
    pub fn key(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("strings, ids and instants always serialize");
        format!("ninjs:{}", &crate::transfer::hex(blake3::hash(&canonical).as_bytes())[..40])
    }
}

/// The id of the article a `uri` names: morgue's own, or a hash of any other.
pub fn article_id(uri: &str) -> ArticleId {
    if let Some(id) = uri.strip_prefix(ARTICLE_URN).and_then(|s| s.parse().ok()) {
        return id;
    }
    let hash = blake3::hash(format!("ninjs uri\0{uri}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_bytes()[..16]);
    ArticleId(ulid::Ulid::from_bytes(bytes))
}

/// Reads one ninjs object. Every error names the field (`headlines[0].value`, `pubStatus`).
pub fn parse(text: &str) -> Result<Incoming, FieldError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let (_, message) = crate::transfer::json_field(&e);
        FieldError::new("(json)", message)
    })?;
    let Value::Object(obj) = &value else {
        return Err(FieldError::new(
            "(json)",
            format!("a ninjs object is a JSON object, not {}", kind(&value)),
        ));
    };
    let uri = string(obj, "", "uri")?.ok_or_else(|| FieldError::new("uri", "is required"))?;
    bounded("uri", uri)?;
    if uri.trim().is_empty() {
        return Err(FieldError::new("uri", "must not be empty"));
    }
    if let Some(t) = string(obj, "", "type")?
        && t != "text"
    {
        return Err(FieldError::new("type", format!("morgue imports text items, not {t:?}")));
    }
    let version = string(obj, "", "version")?;
    if let Some(v) = version {
        bounded("version", v)?;
    }
    let status = match string(obj, "", "pubStatus")?.unwrap_or("usable") {
        "usable" => ArticleStatus::Published,
        "withheld" => ArticleStatus::Draft,
        "canceled" => ArticleStatus::Retracted,
        other => {
            return Err(FieldError::new(
                "pubStatus",
                format!("{other:?} is not one of \"usable\", \"withheld\", \"canceled\""),
            ));
        }
    };

    let headlines = texts(obj, "headlines")?;
    let headline = main(&headlines).ok_or_else(|| FieldError::new("headlines", "a headline is required"))?;
    let bodies = texts(obj, "bodies")?;
    let body = main(&bodies).ok_or_else(|| FieldError::new("bodies", "a body is required"))?;
    if let Some(ct) = body.content_type
        && !["text/markdown", "text/plain"].contains(&ct)
    {
        return Err(FieldError::new(
            &format!("{}.contentType", body.path),
            format!("morgue keeps bodies as Markdown: text/markdown or text/plain, not {ct:?}"),
        ));
    }
    let descriptions = texts(obj, "descriptions")?;
    let described =
        |role: &'static str| descriptions.iter().filter(move |d| d.role == Some(role)).map(|d| d.value);

    let mut section = None;
    let mut tags = Vec::new();
    for (i, item) in array(obj, "subjects")?.iter().enumerate() {
        let path = format!("subjects[{i}]");
        let subject = object(item, &path)?;
        let rel = string(subject, &path, "rel")?;
        let name = string(subject, &path, "name")?;
        match (rel, name) {
            (Some("section"), Some(name)) if section.is_none() => section = Some(name.to_owned()),
            (Some("tag"), Some(name)) => tags.push(name.to_owned()),
            (Some("section" | "tag"), None) => {
                return Err(FieldError::new(&format!("{path}.name"), "a section or a tag needs a name"));
            }
            _ => {}
        }
    }
    let section = section.ok_or_else(|| {
        FieldError::new("subjects", "a section is required: a subject with \"rel\": \"section\" and a name")
    })?;

    let mut bylines = Vec::new();
    for (i, item) in array(obj, "people")?.iter().enumerate() {
        let path = format!("people[{i}]");
        let person = object(item, &path)?;
        let name = string(person, &path, "name")?
            .ok_or_else(|| FieldError::new(&format!("{path}.name"), "a byline needs a name"))?;
        let author = string(person, &path, "uri")?.and_then(|u| u.strip_prefix(AUTHOR_URN)?.parse().ok());
        let role = string(person, &path, "rel")?.map(str::to_owned);
        bylines.push(IncomingByline { name: name.to_owned(), role, author, field: path });
    }
    if bylines.is_empty()
        && let Some(by) = string(obj, "", "by")?.filter(|b| !b.trim().is_empty())
    {
        bylines.push(IncomingByline { name: by.to_owned(), role: None, author: None, field: "by".into() });
    }

    let mut times = Vec::new();
    for field in ["firstCreated", "contentCreated", "versionCreated"] {
        times.push((field, string(obj, "", field)?.map(|t| time(field, t)).transpose()?));
    }
    let pick = |order: [usize; 3]| order.iter().find_map(|&i| times[i].1.map(|t| (times[i].0, t)));
    let (first_field, first_created) = pick([0, 1, 2]).ok_or_else(|| {
        FieldError::new(
            "firstCreated",
            "an instant is required: firstCreated, contentCreated or versionCreated",
        )
    })?;
    let (content_field, content_created) = pick([1, 2, 0]).unwrap_or((first_field, first_created));

    Ok(Incoming {
        id: article_id(uri),
        uri: uri.to_owned(),
        version: version.map(str::to_owned),
        slugline: string(obj, "", "slugline")?.map(str::to_owned),
        headline: headline.value.to_owned(),
        summary: described("summary").next().map(str::to_owned),
        body: body.value.to_owned(),
        section,
        tags,
        language: string(obj, "", "language")?.map(str::to_owned),
        status,
        bylines,
        corrections: described("correction").map(str::to_owned).collect(),
        retraction: described("retraction").next().map(str::to_owned),
        first_created,
        content_created,
        first_field,
        content_field,
    })
}

/// A headline, body or description as read, with where it was.
struct Read<'a> {
    role: Option<&'a str>,
    content_type: Option<&'a str>,
    value: &'a str,
    path: String,
}

/// The entry with `role: main`, else the first.
fn main<'a, 'b>(texts: &'b [Read<'a>]) -> Option<&'b Read<'a>> {
    texts.iter().find(|t| t.role == Some("main")).or_else(|| texts.first())
}

fn texts<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Vec<Read<'a>>, FieldError> {
    let mut out = Vec::new();
    for (i, item) in array(obj, key)?.iter().enumerate() {
        let path = format!("{key}[{i}]");
        let entry = object(item, &path)?;
        let value = string(entry, &path, "value")?
            .ok_or_else(|| FieldError::new(&format!("{path}.value"), "is required"))?;
        let role = string(entry, &path, "role")?;
        let content_type = string(entry, &path, "contentType")?;
        out.push(Read { role, content_type, value, path });
    }
    Ok(out)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string field; absent is `None`, any other type an error.
fn string<'a>(obj: &'a Map<String, Value>, path: &str, key: &str) -> Result<Option<&'a str>, FieldError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => {
            Err(FieldError::new(&join(path, key), format!("must be a string, not {}", kind(other))))
        }
    }
}

/// An array field of at most [`MAX_ENTRIES`]; absent is empty.
fn array<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], FieldError> {
    match obj.get(key) {
        None => Ok(&[]),
        Some(Value::Array(items)) if items.len() > MAX_ENTRIES => {
            Err(FieldError::new(key, format!("has {} entries; at most {MAX_ENTRIES} are read", items.len())))
        }
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(FieldError::new(key, format!("must be an array, not {}", kind(other)))),
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, FieldError> {
    match v {
        Value::Object(o) => Ok(o),
        other => Err(FieldError::new(path, format!("must be an object, not {}", kind(other)))),
    }
}

fn bounded(field: &str, value: &str) -> Result<(), FieldError> {
    if value.len() > MAX_URI {
        return Err(FieldError::new(field, format!("is {} bytes, limit is {MAX_URI} bytes", value.len())));
    }
    Ok(())
}

/// An RFC 3339 instant in the years every path reads (1 to 9999), of at most 64 characters.
fn time(field: &str, text: &str) -> Result<DateTime<Utc>, FieldError> {
    use crate::store::limits::{MAX_YEAR, MIN_YEAR, instant_in_range};
    const LONGEST: usize = 64;
    if text.len() > LONGEST {
        return Err(FieldError::new(field, format!("an instant is at most {LONGEST} characters")));
    }
    let t = DateTime::parse_from_rfc3339(text.trim())
        .map_err(|_| FieldError::new(field, format!("{text:?} is not an RFC 3339 date-time")))?
        .to_utc();
    if !instant_in_range(t) {
        return Err(FieldError::new(
            field,
            format!("{text:?} is outside the years {MIN_YEAR} to {MAX_YEAR}"),
        ));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("[]", "(json)"),
            ("{", "(json)"),
            ("{}", "uri"),
            (r#"{"uri": 5}"#, "uri"),
            (r#"{"uri": "x", "type": "picture"}"#, "type"),
            (r#"{"uri": "x", "headlines": "H"}"#, "headlines"),
            (r#"{"uri": "x", "headlines": [{"value": 1}]}"#, "headlines[0].value"),
            (r#"{"uri": "x", "headlines": [{"value": "H"}]}"#, "bodies"),
            (
                r#"{"uri": "x", "headlines": [{"value": "H"}], "bodies": [{"value": "B", "contentType": "text/html"}]}"#,
                "bodies[0].contentType",
            ),
            (r#"{"uri": "x", "headlines": [{"value": "H"}], "bodies": [{"value": "B"}]}"#, "subjects"),
            (
                r#"{"uri": "x", "headlines": [{"value": "H"}], "bodies": [{"value": "B"}], "subjects": [{"rel": "section"}]}"#,
                "subjects[0].name",
            ),
            (
                r#"{"uri": "x", "headlines": [{"value": "H"}], "bodies": [{"value": "B"}], "subjects": [{"rel": "section", "name": "s"}]}"#,
                "firstCreated",
            ),
            (
                r#"{"uri": "x", "headlines": [{"value": "H"}], "bodies": [{"value": "B"}], "subjects": [{"rel": "section", "name": "s"}], "versionCreated": "0000-01-01T00:00:00Z"}"#,
                "versionCreated",
            ),
            (r#"{"uri": "x", "pubStatus": "gone"}"#, "pubStatus"),
            (
                r#"{"uri": "x", "headlines": [{"value": "H"}], "bodies": [{"value": "B"}], "subjects": [{"rel": "section", "name": "s"}], "people": [{"rel": "reporter"}]}"#,
                "people[0].name",
            ),
        ];
        for (text, field) in cases {
            let err = parse(text).expect_err(text);
            assert_eq!(err.field, field, "{text}: {err}");
        }
    }

    #[test]
    fn other_uris_name_the_same_article_every_time() {
        assert_eq!(article_id("https://example.org/a/1"), article_id("https://example.org/a/1"));
        assert_ne!(article_id("https://example.org/a/1"), article_id("https://example.org/a/2"));
        let id: ArticleId = "01H0000000000000000000B001".parse().expect("an id");
        assert_eq!(article_id(&format!("{ARTICLE_URN}{id}")), id);
    }
}
