//! The fixtures' pictures, drawn by code: no photograph in the repository comes from anyone
//! else. `fixtures/images/` holds them encoded; a test draws them again and compares.

use image::{Rgb, RgbImage};

/// Every fixture picture: its file name and its pixels.
pub fn all() -> Vec<(&'static str, RgbImage)> {
    vec![("sea-wall.png", sea_wall()), ("lighthouse.png", lighthouse())]
}

/// A sea wall under a pale sky at high tide, 640 × 400.
pub fn sea_wall() -> RgbImage {
    RgbImage::from_fn(640, 400, |x, y| {
        let wave = ((x as f32 / 23.0).sin() * 6.0) as i32;
        let wall_top = 250 - (x as i32 / 16);
        if (y as i32) < 200 + wave / 2 {
            // Sky: lighter towards the horizon.
            let t = y as f32 / 200.0;
            Rgb([(150.0 + 80.0 * t) as u8, (190.0 + 50.0 * t) as u8, 235])
        } else if (y as i32) > wall_top && x > 360 {
            // The wall: courses of stone.
            let course = (y / 18 + (x / 40) % 2) % 2;
            let shade = if course == 0 { 120 } else { 105 };
            Rgb([shade, shade - 5, shade - 15])
        } else {
            // The sea: darker with depth, a crest on each wave.
            let depth = (y as f32 - 200.0) / 200.0;
            let crest = ((y as i32 - 200 - wave) % 24).abs() < 2;
            if crest {
                Rgb([225, 235, 240])
            } else {
                Rgb([20, (90.0 - 40.0 * depth) as u8, (140.0 - 50.0 * depth) as u8])
            }
        }
    })
}

/// A lighthouse on a headland at dusk, 400 × 600.
pub fn lighthouse() -> RgbImage {
    RgbImage::from_fn(400, 600, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let tower = (yf > 150.0) && (yf < 470.0) && ((xf - 200.0).abs() < 20.0 + (yf - 150.0) / 16.0);
        let lamp = ((xf - 200.0).powi(2) + (yf - 140.0).powi(2)).sqrt() < 18.0;
        if lamp {
            Rgb([255, 230, 120])
        } else if tower {
            let band = ((yf - 150.0) / 40.0) as u32 % 2;
            if band == 0 { Rgb([235, 235, 230]) } else { Rgb([190, 40, 40]) }
        } else if yf > 470.0 - (xf / 10.0) {
            Rgb([60, 80, 50])
        } else {
            let t = yf / 470.0;
            Rgb([(40.0 + 180.0 * t) as u8, (40.0 + 90.0 * t) as u8, (90.0 + 40.0 * t) as u8])
        }
    })
}

/// A picture as PNG bytes.
pub fn png(picture: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Png).expect("encoding to memory cannot fail");
    out.into_inner()
}

/// A PNG whose header claims `width` × `height` pixels (its checksum made right), the rest of
/// the file unchanged: the decompression bomb an upload must refuse from its header alone.
pub fn png_claiming(png: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut bomb = png.to_vec();
    if bomb.len() < 33 {
        return bomb;
    }
    bomb[16..20].copy_from_slice(&width.to_be_bytes());
    bomb[20..24].copy_from_slice(&height.to_be_bytes());
    let mut crc = !0u32;
    for &b in &bomb[12..29] {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    bomb[29..33].copy_from_slice(&(!crc).to_be_bytes());
    bomb
}

/// A picture as JPEG bytes.
pub fn jpeg(picture: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Jpeg).expect("encoding to memory cannot fail");
    out.into_inner()
}

/// A picture as JPEG bytes carrying facts the way cameras and picture desks write them: an
/// EXIF block (`APP1`: ImageDescription from `exif.caption`, Artist, Copyright, and
/// DateTimeOriginal from `exif.taken_at`, written as EXIF writes it, `YYYY:MM:DD HH:MM:SS`) and
/// an IPTC block (`APP13`: By-line, Credit, Copyright Notice, Caption/Abstract, and Date
/// Created from `iptc.taken_at`, written `CCYYMMDD`).
pub fn jpeg_with_facts(
    picture: &RgbImage,
    exif: &crate::domain::image::EmbeddedFacts,
    iptc: &crate::domain::image::EmbeddedFacts,
) -> Vec<u8> {
    let plain = jpeg(picture);
    let mut out = plain[..2].to_vec(); // SOI
    let segment = |out: &mut Vec<u8>, marker: u8, payload: &[u8]| {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&u16::try_from(payload.len() + 2).expect("a small segment").to_be_bytes());
        out.extend_from_slice(payload);
    };
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff(exif));
    segment(&mut out, 0xE1, &app1);
    let mut iim = Vec::new();
    let fields = [
        (80u8, &iptc.creator),
        (110, &iptc.credit),
        (116, &iptc.copyright),
        (55, &iptc.taken_at),
        (120, &iptc.caption),
    ];
    for (dataset, value) in fields {
        if let Some(v) = value {
            iim.extend_from_slice(&[0x1C, 2, dataset]);
            iim.extend_from_slice(&(v.len() as u16).to_be_bytes());
            iim.extend_from_slice(v.as_bytes());
        }
    }
    let mut app13 = b"Photoshop 3.0\0".to_vec();
    app13.extend_from_slice(b"8BIM\x04\x04\0\0");
    app13.extend_from_slice(&(iim.len() as u32).to_be_bytes());
    app13.extend_from_slice(&iim);
    if iim.len() % 2 == 1 {
        app13.push(0);
    }
    segment(&mut out, 0xED, &app13);
    out.extend_from_slice(&plain[2..]);
    out
}

/// A little-endian TIFF structure with IFD0 (ImageDescription, Artist, Copyright, the EXIF
/// pointer) and the EXIF directory (DateTimeOriginal).
fn tiff(facts: &crate::domain::image::EmbeddedFacts) -> Vec<u8> {
    let ascii = |s: &Option<String>| s.as_ref().map(|s| format!("{s}\0").into_bytes());
    let ifd0: Vec<(u16, Vec<u8>)> =
        [(0x010E, &facts.caption), (0x013B, &facts.creator), (0x8298, &facts.copyright)]
            .into_iter()
            .filter_map(|(tag, v)| ascii(v).map(|b| (tag, b)))
            .collect();
    let sub: Vec<(u16, Vec<u8>)> = ascii(&facts.taken_at).map(|b| vec![(0x9003, b)]).unwrap_or_default();
    let dir_len = |n: usize| 2 + n * 12 + 4;
    let ifd0_at = 8usize;
    let sub_at = ifd0_at + dir_len(ifd0.len() + 1);
    let mut data_at = sub_at + dir_len(sub.len());
    let mut head = b"II*\0".to_vec();
    head.extend_from_slice(&(ifd0_at as u32).to_le_bytes());
    let mut data = Vec::new();
    let directory =
        |entries: &[(u16, Vec<u8>)], pointer: Option<usize>, data: &mut Vec<u8>, data_at: &mut usize| {
            let mut d = Vec::new();
            let n = entries.len() + usize::from(pointer.is_some());
            d.extend_from_slice(&(n as u16).to_le_bytes());
            for (tag, bytes) in entries {
                d.extend_from_slice(&tag.to_le_bytes());
                d.extend_from_slice(&2u16.to_le_bytes());
                d.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                if bytes.len() <= 4 {
                    let mut inline = bytes.clone();
                    inline.resize(4, 0);
                    d.extend_from_slice(&inline);
                } else {
                    d.extend_from_slice(&(*data_at as u32).to_le_bytes());
                    data.extend_from_slice(bytes);
                    *data_at += bytes.len();
                }
            }
            if let Some(p) = pointer {
                d.extend_from_slice(&0x8769u16.to_le_bytes());
                d.extend_from_slice(&4u16.to_le_bytes());
                d.extend_from_slice(&1u32.to_le_bytes());
                d.extend_from_slice(&(p as u32).to_le_bytes());
            }
            d.extend_from_slice(&0u32.to_le_bytes());
            d
        };
    let first = directory(&ifd0, Some(sub_at), &mut data, &mut data_at);
    let second = directory(&sub, None, &mut data, &mut data_at);
    head.extend_from_slice(&first);
    head.extend_from_slice(&second);
    head.extend_from_slice(&data);
    head
}

#[cfg(test)]
mod tests {
    /// The committed pictures are these drawings (`MORGUE_DRAW_FIXTURES=1` writes them).
    #[test]
    fn the_fixture_pictures_are_drawn_by_this_code() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images");
        for (name, picture) in super::all() {
            let path = dir.join(name);
            if std::env::var_os("MORGUE_DRAW_FIXTURES").is_some() {
                std::fs::write(&path, super::png(&picture)).expect("write the fixture");
            }
            let stored = image::open(&path).expect("the fixture decodes").to_rgb8();
            assert!(stored == picture, "{name} is not what the code draws");
        }
    }
}
