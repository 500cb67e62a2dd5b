//! Images on the web page: an article's figures (the lead at the top, with `srcset`, caption
//! and credit; the others after the text) and an image's own page, with its captions over
//! time and the articles that used it. Every image goes through the archive's reader rule:
//! a figure appears only when the reader may fetch its image at the instant read.

use maud::{Markup, html};

use super::Params;
use super::pages::{day, layout, time, url};
use crate::Result;
use crate::archive::{Archive, IMAGE_WIDTHS, ImageReading, Reading, Snapshot};
use crate::domain::image::Role;
use crate::domain::{Article, Image, ImageId, Placement};

/// The figures of an article version: the lead, then the others, as the reader may see them.
pub struct Figures {
    /// The lead image, for the top of the article.
    pub lead: Option<Markup>,
    /// Inline and gallery images, for after the text.
    pub rest: Vec<Markup>,
}

/// The figures of `article` as read by `r`.
pub fn figures(archive: &Archive, r: &Reading, params: &Params, article: &Article) -> Result<Figures> {
    let mut out = Figures { lead: None, rest: Vec::new() };
    for placement in &article.images {
        let ImageReading::Found(snap) = archive.image(r, placement.image_id)? else { continue };
        let figure = figure(&snap.state, placement, params);
        match placement.role {
            Role::Lead if out.lead.is_none() => out.lead = Some(figure),
            _ => out.rest.push(figure),
        }
    }
    Ok(out)
}

/// The rendition URLs of a crop, `url width` pairs for `srcset`: every width of the fixed set
/// up to the crop's own, and the crop's own width when it is narrower than them all.
fn srcset(image: &Image, crop: &str, params: &Params) -> (String, String) {
    let own = image.crop(crop).map_or(image.upload.width, |c| c.width);
    let mut widths: Vec<u32> = IMAGE_WIDTHS.iter().copied().filter(|w| *w <= own).collect();
    let smallest = IMAGE_WIDTHS[0];
    if widths.is_empty() {
        widths.push(smallest);
    }
    let path = |w: u32| url(&format!("/images/{}/{crop}/{w}.jpg", image.id), time(params));
    let set =
        widths.iter().map(|w| format!("{} {}w", path(*w), (*w).min(own))).collect::<Vec<_>>().join(", ");
    let default = widths.iter().copied().filter(|w| *w <= 640).max().unwrap_or(widths[0]);
    (path(default), set)
}

fn figure(image: &Image, placement: &Placement, params: &Params) -> Markup {
    let crop = placement.crop.as_deref().unwrap_or("full");
    let (src, set) = srcset(image, crop, params);
    let (w, h) = image.crop(crop).map_or((image.upload.width, image.upload.height), |c| (c.width, c.height));
    let caption = placement.caption.as_deref().or(image.caption.as_deref());
    let credit = placement.credit.as_deref().or(image.credit.as_deref());
    let class = match placement.role {
        Role::Lead => "lead",
        Role::Inline => "inline",
        Role::Gallery => "gallery",
    };
    html! {
        figure class=(class) {
            a href=(url(&format!("/images/{}", image.id), time(params))) {
                img src=(src) srcset=(set) sizes="(max-width: 44rem) 100vw, 44rem"
                    width=(w) height=(h) alt=(image.alt.as_deref().unwrap_or("")) loading="lazy";
            }
            @if caption.is_some() || credit.is_some() {
                figcaption {
                    @if let Some(c) = caption { span.caption { (c) } }
                    @if let Some(c) = credit { " " span.credit { (c) } }
                }
            }
        }
    }
}

/// What an image page shows, when the reader may see the image.
pub enum ImagePage {
    /// The page.
    Page(Markup),
    /// Retired, or its rights have run out: 410.
    Gone,
    /// Taken down for legal reasons: 451, with the notice.
    TakenDown(String),
    /// No such image, or none the reader may see at the instant: 404.
    Missing,
}

/// An image's page: the image, its facts, its captions over time and the articles using it.
pub fn image(archive: &Archive, r: &Reading, params: &Params, id: ImageId) -> Result<ImagePage> {
    let snap: Snapshot<Image> = match archive.image(r, id)? {
        ImageReading::Found(snap) => *snap,
        ImageReading::Gone => return Ok(ImagePage::Gone),
        ImageReading::TakenDown { at, legal_reference } => {
            let notice = crate::http::images::takedown_notice(at, legal_reference.as_deref());
            return Ok(ImagePage::TakenDown(notice));
        }
        ImageReading::Missing => return Ok(ImagePage::Missing),
    };
    let image = &snap.state;
    let history = archive.image_history(r, id)?;
    let usages = archive.image_usages(r, id)?;
    let path = format!("/images/{id}");
    let whole = Placement { image_id: id, role: Role::Lead, crop: None, caption: None, credit: None };
    let title = image.caption.clone().unwrap_or_else(|| format!("Image {id}"));
    let body = html! {
        article.image {
            p.meta { "Image · version " (snap.version) }
            h1 { (title) }
            (figure(image, &whole, params))
            dl.facts {
                @if let Some(c) = &image.credit { dt { "Credit" } dd { (c) } }
                @if let Some(a) = &image.alt { dt { "Alt text" } dd { (a) } }
                @if let Some(rights) = &image.rights { dt { "Rights" } dd { (rights) } }
                @if let Some(end) = image.rights_expire_at { dt { "Rights run out" } dd { (day(end)) } }
                dt { "Size" } dd { (image.upload.width) " × " (image.upload.height) " pixels, " (image.upload.media_type) }
            }
            section.captions {
                h2 { "Captions over time" }
                ol {
                    @for version in &history {
                        li {
                            a href=(url(&path, vec![("asOf", Some(version.effective_at.to_rfc3339()))])) {
                                (day(version.effective_at))
                            }
                            ": " (version.state.caption.as_deref().unwrap_or("(no caption)"))
                            @if let Some(c) = &version.state.credit { " · " (c) }
                        }
                    }
                }
            }
            section.usages {
                h2 { "Used in" }
                @if usages.is_empty() {
                    p { "No article places this image at this date." }
                } @else {
                    ul {
                        @for a in &usages {
                            li { a href=(url(&format!("/articles/{}", a.state.slug), time(params))) { (a.state.headline) } }
                        }
                    }
                }
            }
        }
    };
    Ok(ImagePage::Page(layout(&title, r, params, &path, time(params), body)))
}
