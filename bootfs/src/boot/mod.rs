//! What the loader does with a boot file: the one verdict and the ways a
//! file is presented ([`bootplan`]), disk images as BIOS drives
//! ([`diskimage`]), and the partitions a booted file gives the stick for
//! the system it starts: an ISO's, an installed system's ([`iso_partition`]). A new boot path is one more
//! `Presentation` and one more arm of the verdict here.

pub mod added_files;
pub mod additions;
pub mod bootplan;
pub mod cpio;
pub mod diskimage;
pub mod initrds;
pub mod iso_partition;
