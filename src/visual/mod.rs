//! Evidence an analyst checks by eye: quicklook chips of each site on both dates
//! ([`chips`]: stretched alike by [`stretch`], vehicles ringed by [`draw`]), an
//! overview map ([`overview`]), time-series charts as SVG ([`charts`]) and the
//! self-contained `report.html` pages ([`html`], [`timeline_page`], [`page`], images
//! sized for them by [`embed`]).
//! [`mod@write`] puts them on disk beside `report.json`.

pub mod charts;
pub mod chips;
pub mod draw;
pub mod embed;
pub mod html;
pub mod overview;
pub mod page;
pub mod stretch;
pub mod timeline_page;
pub mod write;
