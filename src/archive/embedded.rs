//! The facts a photograph carries inside its file: IPTC (By-line, Credit, Copyright Notice,
//! Date Created, Caption/Abstract) and EXIF (Artist, Copyright, DateTimeOriginal,
//! ImageDescription). Read with bounds from bytes an uploader chose: every offset is checked,
//! every loop is bounded, and what cannot be read is simply absent. IPTC wins where both say.

use image::{ImageDecoder, ImageFormat, ImageReader};

use crate::domain::image::EmbeddedFacts;

/// The longest text kept of any one fact, in characters.
pub const MAX_FACT: usize = 1000;
/// The most directory entries or resource blocks read.
const MAX_ENTRIES: usize = 1024;

/// The facts embedded in an image file (JPEG, PNG or WebP; none for GIF).
pub fn facts(bytes: &[u8], format: ImageFormat) -> EmbeddedFacts {
    let Ok(decoder) = ImageReader::with_format(std::io::Cursor::new(bytes), format).into_decoder() else {
        return EmbeddedFacts::default();
    };
    let mut decoder = decoder;
    let exif = decoder.exif_metadata().ok().flatten().map(|e| exif_facts(&e)).unwrap_or_default();
    let iptc = decoder.iptc_metadata().ok().flatten().map(|i| iptc_facts(&i)).unwrap_or_default();
    EmbeddedFacts {
        creator: iptc.creator.or(exif.creator),
        credit: iptc.credit.or(exif.credit),
        copyright: iptc.copyright.or(exif.copyright),
        taken_at: iptc.taken_at.or(exif.taken_at),
        caption: iptc.caption.or(exif.caption),
    }
}

/// A fact's text: valid UTF-8 (or Latin-1), control characters dropped, trimmed, bounded.
fn text(raw: &[u8]) -> Option<String> {
    let raw = raw.split(|b| *b == 0).next().unwrap_or(raw);
    let decoded = match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => raw.iter().map(|b| char::from(*b)).collect(),
    };
    let clean: String = decoded.chars().filter(|c| !c.is_control()).take(MAX_FACT).collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| clean.to_owned())
}

/// EXIF: a TIFF structure (after an optional `Exif\0\0`).
pub fn exif_facts(exif: &[u8]) -> EmbeddedFacts {
    let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    let mut out = EmbeddedFacts::default();
    let Some(t) = Tiff::new(tiff) else { return out };
    let Some(ifd0) = t.u32(4) else { return out };
    let mut sub = None;
    t.entries(ifd0 as usize, |tag, kind, count, at| match tag {
        0x010E => out.caption = t.ascii(kind, count, at),
        0x013B => out.creator = t.ascii(kind, count, at),
        0x8298 => out.copyright = t.ascii(kind, count, at),
        0x8769 => sub = t.u32(at),
        _ => {}
    });
    if let Some(sub) = sub {
        t.entries(sub as usize, |tag, kind, count, at| {
            if tag == 0x9003 {
                // `YYYY:MM:DD HH:MM:SS` becomes `YYYY-MM-DDTHH:MM:SS`.
                out.taken_at = t.ascii(kind, count, at).map(|s| {
                    let mut s = s.replacen(':', "-", 2);
                    if s.len() > 10 && s.as_bytes()[10] == b' ' {
                        s.replace_range(10..11, "T");
                    }
                    s
                });
            }
        });
    }
    out
}

struct Tiff<'a> {
    bytes: &'a [u8],
    little: bool,
}

impl<'a> Tiff<'a> {
    fn new(bytes: &'a [u8]) -> Option<Tiff<'a>> {
        let little = match bytes.get(0..2)? {
            b"II" => true,
            b"MM" => false,
            _ => return None,
        };
        let t = Tiff { bytes, little };
        (t.u16(2)? == 42).then_some(t)
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.little { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    /// Calls `each(tag, type, count, value_at)` for each entry of the directory at `at`.
    fn entries(&self, at: usize, mut each: impl FnMut(u16, u16, u32, usize)) {
        let Some(n) = self.u16(at) else { return };
        for i in 0..usize::from(n).min(MAX_ENTRIES) {
            let entry = at + 2 + i * 12;
            let (Some(tag), Some(kind), Some(count)) =
                (self.u16(entry), self.u16(entry + 2), self.u32(entry + 4))
            else {
                return;
            };
            each(tag, kind, count, entry + 8);
        }
    }

    /// An ASCII value (type 2): inline when it fits in four bytes, else at its offset.
    fn ascii(&self, kind: u16, count: u32, at: usize) -> Option<String> {
        if kind != 2 {
            return None;
        }
        let len = count as usize;
        let start = if len <= 4 { at } else { self.u32(at)? as usize };
        text(self.bytes.get(start..start.checked_add(len)?)?)
    }
}

/// IPTC: Photoshop image resource blocks (`8BIM`), whose resource 0x0404 holds IIM records.
pub fn iptc_facts(resources: &[u8]) -> EmbeddedFacts {
    let mut out = EmbeddedFacts::default();
    let mut at = 0usize;
    for _ in 0..MAX_ENTRIES {
        let Some(block) = resources.get(at..) else { break };
        if block.len() < 12 || &block[..4] != b"8BIM" {
            break;
        }
        let id = u16::from_be_bytes([block[4], block[5]]);
        // A Pascal name, padded to an even length with its length byte.
        let name_len = usize::from(block[6]);
        let name_total = (name_len + 1 + 1) & !1;
        let size_at = 6 + name_total;
        let Some(size) = block.get(size_at..size_at + 4) else { break };
        let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
        let data_at = size_at + 4;
        let Some(data) = block.get(data_at..data_at.saturating_add(size)) else { break };
        if id == 0x0404 {
            iim(data, &mut out);
        }
        at = at.saturating_add(data_at).saturating_add((size + 1) & !1);
    }
    out
}

/// IIM datasets: `0x1C`, record, dataset, a two-byte length, the value.
fn iim(data: &[u8], out: &mut EmbeddedFacts) {
    let mut at = 0usize;
    for _ in 0..MAX_ENTRIES {
        let Some(head) = data.get(at..at + 5) else { break };
        if head[0] != 0x1C {
            break;
        }
        let (record, dataset) = (head[1], head[2]);
        let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
        if len & 0x8000 != 0 {
            break; // an extended length: not a text field
        }
        let Some(value) = data.get(at + 5..at + 5 + len) else { break };
        if record == 2 {
            let slot = match dataset {
                80 => &mut out.creator,
                110 => &mut out.credit,
                116 => &mut out.copyright,
                120 => &mut out.caption,
                55 => {
                    // CCYYMMDD becomes CCYY-MM-DD.
                    let date = text(value).filter(|d| d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()));
                    out.taken_at =
                        out.taken_at.take().or(date.map(|d| format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..])));
                    at += 5 + len;
                    continue;
                }
                _ => {
                    at += 5 + len;
                    continue;
                }
            };
            if slot.is_none() {
                *slot = text(value);
            }
        }
        at += 5 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn no_bytes_panic_the_readers(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = exif_facts(&bytes);
            let _ = iptc_facts(&bytes);
            let mut tiff = b"II*\0\x08\0\0\0".to_vec();
            tiff.extend_from_slice(&bytes);
            let _ = exif_facts(&tiff);
            let mut blocks = b"8BIM\x04\x04\0\0".to_vec();
            blocks.extend_from_slice(&bytes);
            let _ = iptc_facts(&blocks);
        }
    }
}
