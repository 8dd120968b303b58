//! CD images: ISO9660's volume descriptors and folders ([`iso9660`]) and El
//! Torito's boot catalog ([`eltorito`]).

pub mod eltorito;
pub mod iso9660;
pub mod iso_tree;
