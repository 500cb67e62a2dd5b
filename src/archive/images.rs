//! Images: an upload checked from its content and stored once, the reader rule for images,
//! and renditions made from the master on first request.
//!
//! The rule: a reader sees an image at an instant only if an article version the reader may
//! see at that instant places it ([`Archive::may_see`]), and the image is neither retired nor
//! past its rights then. Staff see every image.

use std::io::Cursor;
use std::path::PathBuf;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use super::{Archive, Reading, WriteOptions, Written};
use crate::domain::image::{Crop, ImageCommand, ImageUploaded};
use crate::domain::{ArticleId, Command, Image, ImageId};
use crate::project::views::Snapshot;
use crate::store::blobs::{BlobId, Blobs};
use crate::{Error, Result};

/// The largest file accepted, in bytes.
pub const MAX_UPLOAD: usize = 50 << 20;
/// The most pixels an image may have: a decompression bomb claims far more.
pub const MAX_PIXELS: u64 = 40_000_000;
/// The most memory decoding one image may take.
const MAX_DECODE_ALLOC: u64 = 512 << 20;
/// The widths renditions are made at.
pub const WIDTHS: [u32; 6] = [160, 320, 640, 1280, 1920, 2560];

/// An uploaded file and what the editor said of it.
#[derive(Clone, Debug, Default)]
pub struct Upload {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The file's name as sent, when it had one.
    pub filename: Option<String>,
    /// The media type as sent, when it had one.
    pub content_type: Option<String>,
    /// Caption.
    pub caption: Option<String>,
    /// Credit.
    pub credit: Option<String>,
    /// Alt text.
    pub alt: Option<String>,
}

/// What a reader asking for an image gets.
#[derive(Clone, Debug)]
pub enum ImageReading {
    /// The image as of the reading.
    Found(Box<Snapshot<Image>>),
    /// It was public but is retired, or its rights ran out: 410.
    Gone,
    /// It would be public but is taken down: 451, with the notice.
    TakenDown {
        /// When the takedown took effect.
        at: chrono::DateTime<chrono::Utc>,
        /// The order or demand it follows, when given.
        legal_reference: Option<String>,
    },
    /// Not there for this reader.
    Missing,
}

/// A rendition's bytes and media type.
#[derive(Clone, Debug)]
pub struct Rendition {
    /// The encoded bytes.
    pub bytes: Vec<u8>,
    /// `image/jpeg` or `image/webp`.
    pub media_type: &'static str,
    /// Pixels across.
    pub width: u32,
}

fn media_type(format: ImageFormat) -> Option<&'static str> {
    Some(match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Png => "image/png",
        ImageFormat::WebP => "image/webp",
        ImageFormat::Gif => "image/gif",
        _ => return None,
    })
}

fn bad(message: impl Into<String>) -> Error {
    Error::BadInput(message.into())
}

/// Whether the file ends as its format requires: a cut-off file is refused before decoding.
fn complete(format: ImageFormat, bytes: &[u8]) -> bool {
    match format {
        ImageFormat::Jpeg => bytes.ends_with(&[0xFF, 0xD9]),
        ImageFormat::Png => bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]),
        ImageFormat::Gif => bytes.ends_with(&[0x3B]),
        ImageFormat::WebP => bytes
            .get(4..8)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as u64 + 8)
            .is_some_and(|riff| riff <= bytes.len() as u64),
        _ => false,
    }
}

/// Checks an upload from its content: the type (JPEG, PNG, WebP or GIF, agreeing with its
/// name and declared type), its pixel count from the header, then a full decode under memory
/// limits. Answers the upload event's facts.
pub fn inspect(upload: &Upload) -> Result<ImageUploaded> {
    let bytes = &upload.bytes;
    if bytes.len() > MAX_UPLOAD {
        return Err(Error::Limit(format!("the file is {} bytes; the limit is {MAX_UPLOAD}", bytes.len())));
    }
    if bytes.is_empty() {
        return Err(bad("the file is empty"));
    }
    let format = image::guess_format(bytes)
        .ok()
        .filter(|f| media_type(*f).is_some())
        .ok_or_else(|| bad("the file is not a JPEG, PNG, WebP or GIF image"))?;
    let kind = media_type(format).expect("filtered above");
    if let Some(name) = &upload.filename
        && let Some((_, ext)) = name.rsplit_once('.')
        && ImageFormat::from_extension(ext) != Some(format)
    {
        return Err(bad(format!("the file is named {name:?} but its content is {kind}")));
    }
    if let Some(declared) = upload.content_type.as_deref().map(|t| t.split(';').next().unwrap_or("").trim())
        && declared.starts_with("image/")
        && ImageFormat::from_mime_type(declared) != Some(format)
    {
        return Err(bad(format!("the file is sent as {declared} but its content is {kind}")));
    }
    if !complete(format, bytes) {
        return Err(bad(format!("the {kind} file is truncated")));
    }
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| bad(format!("the {kind} header cannot be read: {e}")))?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 || pixels > MAX_PIXELS {
        return Err(bad(format!(
            "the image claims {width}×{height} pixels; at most {MAX_PIXELS} are accepted"
        )));
    }
    decode(bytes, format).map_err(|e| bad(format!("the {kind} file is damaged: {e}")))?;
    // What the file says of itself (the image's caption, credit and rights until given).
    let embedded = super::embedded::facts(bytes, format);
    Ok(ImageUploaded {
        hash: BlobId::of(bytes).to_string(),
        media_type: kind.to_owned(),
        width,
        height,
        bytes: bytes.len() as u64,
        caption: upload.caption.clone(),
        credit: upload.credit.clone(),
        alt: upload.alt.clone(),
        embedded,
    })
}

fn decode(bytes: &[u8], format: ImageFormat) -> image::ImageResult<DynamicImage> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits.max_image_width = Some(MAX_PIXELS as u32);
    limits.max_image_height = Some(MAX_PIXELS as u32);
    reader.limits(limits);
    reader.decode()
}

/// Destroys an erased image's bytes on this node: its blob, and every rendition made of it.
pub fn forget_image_bytes(store: &crate::store::Store, hash: BlobId) -> std::io::Result<()> {
    store.blobs().remove(hash)?;
    let data = store.path().parent().map(PathBuf::from).unwrap_or_default();
    match std::fs::remove_dir_all(data.join("renditions").join(hash.to_string())) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether a stream's events can name blobs (an image's stream), from its name alone.
pub fn names_blobs_in(stream: &str) -> bool {
    matches!(crate::domain::StreamKind::parse(stream), Some(crate::domain::StreamKind::Image(_)))
}

/// Whether events of this type name blobs (from the type alone, without the payload).
pub fn names_blobs(event_type: &str) -> bool {
    crate::domain::events::names_blobs(event_type)
}

/// The blobs a stored event names, read from its (opened) payload: an image's upload names its
/// bytes; other events name none.
pub fn blobs_named(event: &crate::store::RecordedEvent) -> Result<Vec<BlobId>> {
    if !crate::domain::events::names_blobs(&event.event_type) {
        return Ok(Vec::new());
    }
    let (decoded, _) = super::decode(event)?;
    Ok(decoded
        .claims()
        .into_iter()
        .filter(|(namespace, _)| *namespace == "blob")
        .filter_map(|(_, hash)| BlobId::parse(&hash))
        .collect())
}

impl Archive {
    /// The blob store beside the log.
    pub fn blobs(&self) -> Blobs {
        self.store.blobs()
    }

    fn renditions_dir(&self) -> PathBuf {
        self.store.path().parent().map(PathBuf::from).unwrap_or_default().join("renditions")
    }

    /// Stores an uploaded image and starts its stream. Bytes already stored answer with the
    /// image that holds them, and nothing is appended (`replayed` is then true).
    pub async fn upload_image(
        &self,
        actor: Option<&str>,
        upload: Upload,
        options: WriteOptions,
    ) -> Result<Written> {
        self.read_only()?;
        let uploaded = tokio::task::spawn_blocking(move || inspect(&upload).map(|u| (u, upload.bytes)))
            .await
            .map_err(|e| Error::Internal(format!("checking the upload stopped: {e}")))??;
        let (uploaded, bytes) = uploaded;
        if let Some(existing) = self.image_holding(&uploaded.hash)? {
            return self.already(existing);
        }
        let blobs = self.blobs();
        tokio::task::spawn_blocking(move || blobs.put(&bytes))
            .await
            .map_err(|e| Error::Internal(format!("storing the upload stopped: {e}")))?
            .map_err(|e| Error::Internal(format!("storing the upload: {e}")))?;
        let hash = uploaded.hash.clone();
        let command = Command::Image(ImageId::generate(), ImageCommand::Upload(Box::new(uploaded)));
        match self.execute(actor, command, options).await {
            // Another upload of the same bytes won the race.
            Err(Error::Store(crate::store::Error::ClaimTaken { .. })) => match self.image_holding(&hash)? {
                Some(existing) => self.already(existing),
                None => Err(Error::Internal("an image claimed these bytes and vanished".into())),
            },
            other => other,
        }
    }

    /// Erases an image: appends its tombstone (the store destroys the stream's key), then
    /// destroys its bytes and renditions on this node. Replicas destroy theirs when they
    /// restore the tombstone.
    pub async fn erase_image(
        &self,
        actor: Option<&str>,
        id: ImageId,
        reason: String,
        options: super::WriteOptions,
    ) -> Result<Written> {
        let hash = self.image_state(id)?.1.and_then(|i| BlobId::parse(&i.upload.hash));
        let written =
            self.execute(actor, Command::Image(id, ImageCommand::Erase { reason }), options).await?;
        if let Some(hash) = hash {
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || forget_image_bytes(&store, hash))
                .await
                .map_err(|e| Error::Internal(format!("destroying the bytes stopped: {e}")))?
                .map_err(|e| Error::Internal(format!("destroying the bytes of image {id}: {e}")))?;
        }
        Ok(written)
    }

    fn already(&self, id: ImageId) -> Result<Written> {
        let (_, position) = self
            .store
            .reader()?
            .stream_head(&id.stream())?
            .ok_or_else(|| Error::Internal(format!("image {id} has no stream")))?;
        let mut written = self.written(&id.stream(), position, true)?;
        written.replayed = true;
        Ok(written)
    }

    /// The image whose upload holds these bytes, if one does.
    fn image_holding(&self, hash: &str) -> Result<Option<ImageId>> {
        let holder = self.store.reader()?.claim_holder("blob", hash)?;
        Ok(holder.and_then(|s| ImageId::from_stream(&s)))
    }

    /// An image as of the reading, under the reader rule (module docs).
    pub fn image(&self, reading: &Reading, id: ImageId) -> Result<ImageReading> {
        let views = self.projections_or_err()?.views();
        let r = views.read()?;
        let Some(snap) = r.image(id, reading.at)? else { return Ok(ImageReading::Missing) };
        if reading.staff {
            return Ok(ImageReading::Found(Box::new(snap)));
        }
        let uses = r.image_uses(id)?;
        // A takedown hides the image at every instant while it is in force (read as the image
        // stands now), and the versions it covered even after a restoration.
        let takedown = r
            .image(id, crate::project::At::default())?
            .and_then(|now| now.state.takedown)
            .or_else(|| snap.state.takedown.clone());
        drop(r);
        if !self.placed_publicly(reading, id, &uses)? {
            return Ok(ImageReading::Missing);
        }
        if let Some(t) = takedown {
            return Ok(ImageReading::TakenDown { at: t.at, legal_reference: t.legal_reference });
        }
        if !snap.state.servable_at(Self::instant(reading)) {
            return Ok(ImageReading::Gone);
        }
        Ok(ImageReading::Found(Box::new(snap)))
    }

    /// Whether an article the reader may see at the reading places the image there (the first
    /// one found answers).
    fn placed_publicly(&self, reading: &Reading, id: ImageId, uses: &[ArticleId]) -> Result<bool> {
        for article in uses {
            if let Some(a) = self.article(reading, *article)?
                && a.state.images.iter().any(|p| p.image_id == id)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The articles that place the image at the reading, as this reader may see them.
    pub fn image_usages(
        &self,
        reading: &Reading,
        id: ImageId,
    ) -> Result<Vec<Snapshot<crate::domain::Article>>> {
        let uses = self.projections_or_err()?.views().read()?.image_uses(id)?;
        let mut out = Vec::new();
        for article in uses {
            if let Some(a) = self.article(reading, article)?
                && a.state.images.iter().any(|p| p.image_id == id)
            {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Every version of an image, oldest first, up to the reading. Staff get them all; a reader
    /// who may see the image at the reading gets only the versions that were public themselves:
    /// the image as it stood at the start or at the end of the version's time was placed in a
    /// version the reader may see then (a caption from before the image was first published,
    /// or from under a takedown, is never shown).
    pub fn image_history(&self, reading: &Reading, id: ImageId) -> Result<Vec<Snapshot<Image>>> {
        if !matches!(self.image(reading, id)?, ImageReading::Found(_)) {
            return Ok(Vec::new());
        }
        let views = self.projections_or_err()?.views();
        let all = views.read()?.history::<Image>(crate::domain::StreamKind::Image(id))?;
        let as_of = Self::instant(reading);
        let all: Vec<_> =
            all.into_iter().filter(|s| s.position <= reading.basis && s.effective_at <= as_of).collect();
        if reading.staff {
            return Ok(all);
        }
        let mut out = Vec::new();
        for (i, version) in all.iter().enumerate() {
            let end =
                all.get(i + 1).map_or(as_of, |next| next.effective_at - chrono::Duration::microseconds(1));
            let mut public = false;
            for t in [version.effective_at, end.max(version.effective_at)] {
                let at = Reading {
                    at: crate::project::At { as_of: Some(t), basis: reading.at.basis },
                    ..*reading
                };
                if let ImageReading::Found(seen) = self.image(&at, id)?
                    && seen.position == version.position
                {
                    public = true;
                    break;
                }
            }
            if public {
                out.push(version.clone());
            }
        }
        Ok(out)
    }

    /// The master's bytes of an image the reader may see.
    pub fn image_original(&self, image: &Image) -> Result<Vec<u8>> {
        let id = BlobId::parse(&image.upload.hash)
            .ok_or_else(|| Error::Internal(format!("image {} names no blob", image.id)))?;
        self.blobs()
            .get(id, MAX_UPLOAD as u64)
            .map_err(|e| Error::Internal(format!("the bytes of image {} cannot be read: {e}", image.id)))
    }

    /// A rendition of a crop at a width of [`WIDTHS`] (never wider than the crop), made from
    /// the master on first request and kept on disk after.
    pub fn rendition(&self, image: &Image, crop: &str, width: u32, webp: bool) -> Result<Rendition> {
        if !WIDTHS.contains(&width) {
            return Err(bad(format!("width {width} is not one of {WIDTHS:?}")));
        }
        let c: Crop =
            image.crop(crop).ok_or_else(|| bad(format!("image {} has no crop named {crop:?}", image.id)))?;
        if c.width == 0 || c.height == 0 {
            return Err(bad(format!("crop {crop:?} of image {} is empty", image.id)));
        }
        let width = width.min(c.width);
        let (ext, media_type) = if webp { ("webp", "image/webp") } else { ("jpg", "image/jpeg") };
        let path = self
            .renditions_dir()
            .join(&image.upload.hash)
            .join(format!("{}_{}_{}_{}", c.x, c.y, c.width, c.height))
            .join(format!("{width}.{ext}"));
        if let Ok(bytes) = std::fs::read(&path) {
            return Ok(Rendition { bytes, media_type, width });
        }
        let master = self.image_original(image)?;
        let format = image::guess_format(&master).map_err(|e| Error::Internal(e.to_string()))?;
        let decoded = decode(&master, format)
            .map_err(|e| Error::Internal(format!("decoding image {}: {e}", image.id)))?;
        // The crop as the master allows it (a restored or replicated event is not re-checked
        // against the bytes), and a rendition of bounded size.
        let (x, y) =
            (c.x.min(decoded.width().saturating_sub(1)), c.y.min(decoded.height().saturating_sub(1)));
        let (cw, ch) = (c.width.min(decoded.width() - x).max(1), c.height.min(decoded.height() - y).max(1));
        let width = width.min(cw);
        let height = (u64::from(ch) * u64::from(width)).div_ceil(u64::from(cw)).max(1);
        if u64::from(width) * height > MAX_PIXELS {
            return Err(bad(format!("crop {crop:?} of image {} is too tall to render", image.id)));
        }
        let height = height as u32;
        let scaled =
            decoded.crop_imm(x, y, cw, ch).resize_exact(width, height, image::imageops::FilterType::Triangle);
        let mut out = Vec::new();
        let encoded = if webp {
            image::codecs::webp::WebPEncoder::new_lossless(&mut out).encode(
                scaled.to_rgba8().as_raw(),
                width,
                height,
                image::ExtendedColorType::Rgba8,
            )
        } else {
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82).encode(
                scaled.to_rgb8().as_raw(),
                width,
                height,
                image::ExtendedColorType::Rgb8,
            )
        };
        encoded.map_err(|e| Error::Internal(format!("encoding a rendition: {e}")))?;
        // Derived and rebuildable: a failed write only means it is made again next time.
        if let Some(parent) = path.parent()
            && std::fs::create_dir_all(parent).is_ok()
        {
            let tmp = path.with_extension(format!("{ext}.{}", ulid::Ulid::new()));
            if std::fs::write(&tmp, &out).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
        Ok(Rendition { bytes: out, media_type, width })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("png");
        out.into_inner()
    }

    fn upload(bytes: Vec<u8>, name: &str) -> Upload {
        Upload { bytes, filename: Some(name.into()), ..Upload::default() }
    }

    #[test]
    fn good_files_pass_and_hostile_ones_are_bad_input() {
        let good = png(40, 20);
        let facts = inspect(&upload(good.clone(), "a.png")).expect("a good png");
        assert_eq!((facts.width, facts.height, facts.media_type.as_str()), (40, 20, "image/png"));
        let code = |u: &Upload| inspect(u).map(|_| ()).map_err(|e| e.code());
        assert_eq!(code(&upload(good.clone(), "a.jpg")), Err(crate::Code::BadInput), "named a jpeg");
        assert_eq!(code(&upload(good[..good.len() - 20].to_vec(), "a.png")), Err(crate::Code::BadInput));
        assert_eq!(code(&upload(b"hello".to_vec(), "a.png")), Err(crate::Code::BadInput));
        // The decompression bomb (a header claiming 100,000 × 100,000 pixels) is
        // tested end to end in tests/it/images.rs, where `tools::pictures` may be used.
    }

    proptest::proptest! {
        #[test]
        fn no_bytes_panic_the_inspection(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048), cut in 0usize..2048) {
            let _ = inspect(&upload(bytes, "x.png"));
            let good = png(8, 8);
            let mut damaged = good.clone();
            let at = cut % damaged.len();
            damaged[at] ^= 0x5A;
            let _ = inspect(&upload(damaged, "x.png"));
        }
    }
}
