//! Repair: replacements for broken links that only the network can find.
//!
//! The static repair, the URL rebuilt from an exploded run, is found
//! while diagnosing ([`crate::diagnose`]), from the document alone. What
//! lives here needs what the checker fetched: [`source_page`] matches a
//! document's broken and truncated images against the images of the page
//! it was copied from. The checker calls it once a document's source page
//! has been fetched, then checks every suggestion like any other link.

pub mod source_page;
