//! The fixtures' images: after `morgue serve` fills an empty archive with the fixtures, the
//! pictures listed in `fixtures/images/images.json` (drawn by code, see `tools::pictures`) are
//! uploaded and placed through the write path, as an editor would, so the default archive
//! shows images from its first start.
//!
//! The list is a JSON array of `{file, caption, credit, alt, placements: [{article, role,
//! caption, credit}]}`, with `file` beside the list. A bad list is refused with the entry and
//! the field named; what was written before the bad entry stays (each write is checked on its
//! own, like any editor's).

use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::archive::{Archive, Upload};
use crate::domain::commands::ArticleCommand;
use crate::domain::image::{Placement, Role};
use crate::domain::{ArticleId, Command};

/// The largest list read (bytes).
const MAX_LIST: u64 = 64 << 10;
/// The most images one list holds.
const MAX_IMAGES: usize = 32;
/// Who the fixture images' events name.
const ACTOR: &str = "Gazette fixtures";

/// One picture of the list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    file: String,
    caption: Option<String>,
    credit: Option<String>,
    alt: Option<String>,
    #[serde(default)]
    placements: Vec<Place>,
}

/// Where a picture goes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Place {
    article: String,
    role: Role,
    caption: Option<String>,
    credit: Option<String>,
}

/// Uploads and places the pictures `list` names; returns how many events were written.
pub(super) async fn load(archive: &Archive, list: &Path) -> anyhow::Result<u64> {
    let named = |i: usize, field: &str| format!("{}: entry {i}, field {field:?}", list.display());
    let size = std::fs::metadata(list).with_context(|| format!("reading {}", list.display()))?.len();
    if size > MAX_LIST {
        bail!("{}: {size} bytes, limit is {MAX_LIST}", list.display());
    }
    let text = std::fs::read_to_string(list).with_context(|| format!("reading {}", list.display()))?;
    let entries: Vec<Entry> = serde_json::from_str(&text).with_context(|| {
        format!("{}: not a list of {{file, caption, credit, alt, placements}}", list.display())
    })?;
    if entries.len() > MAX_IMAGES {
        bail!("{}: {} images, limit is {MAX_IMAGES}", list.display(), entries.len());
    }
    let dir = list.parent().unwrap_or(Path::new("."));
    let mut written = 0;
    for (i, entry) in entries.into_iter().enumerate() {
        let name = Path::new(&entry.file);
        if name.components().count() != 1 {
            bail!("{}: a file name beside the list, not a path", named(i, "file"));
        }
        let path = dir.join(name);
        let size = std::fs::metadata(&path).with_context(|| named(i, "file"))?.len();
        if size > crate::archive::MAX_UPLOAD as u64 {
            bail!("{}: {size} bytes, limit is {}", named(i, "file"), crate::archive::MAX_UPLOAD);
        }
        let upload = Upload {
            bytes: std::fs::read(&path).with_context(|| named(i, "file"))?,
            filename: Some(entry.file.clone()),
            content_type: None,
            caption: entry.caption,
            credit: entry.credit,
            alt: entry.alt,
        };
        let uploaded = archive.upload_image(Some(ACTOR), upload, Default::default()).await;
        let uploaded = uploaded.with_context(|| named(i, "file"))?;
        written += u64::from(!uploaded.replayed);
        let image_id = match uploaded.entity {
            crate::archive::Entity::Image(image) => image.id,
            _ => bail!("{}: the upload answered with something other than an image", named(i, "file")),
        };
        for (j, place) in entry.placements.into_iter().enumerate() {
            let field = format!("placements[{j}].article");
            let article: ArticleId = place.article.parse().map_err(|_| {
                anyhow::anyhow!("{}: {:?} is not an article id", named(i, &field), place.article)
            })?;
            let placement = Placement {
                image_id,
                role: place.role,
                crop: None,
                caption: place.caption,
                credit: place.credit,
            };
            let command = Command::Article(article, ArticleCommand::PlaceImage(placement));
            archive
                .execute(Some(ACTOR), command, Default::default())
                .await
                .with_context(|| named(i, &field))?;
            written += 1;
        }
    }
    Ok(written)
}
