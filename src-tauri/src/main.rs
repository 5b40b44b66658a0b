// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Screenshots are read with Tesseract, whose OpenMP threads spin while they wait: one thread reads an image
    // about 8x faster on a small machine (this runs the program again, once, before any window exists).
    redflag::ocr::limit_openmp_threads();
    redflag_desktop::run();
}
