//! Screenshots rendered for the tests with ImageMagick (`convert`, installed by scripts/setup.sh): a chat bubble in
//! light or dark mode under a phone's status bar, a plain notice, and a screenshot saved at half size. Nothing
//! copied is committed; every image is made from text the test chooses.

use std::path::Path;
use std::process::Command;

/// How the text is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A 1080×2400 phone screenshot: status bar, one green chat bubble with a time stamp, light mode.
    LightChat,
    /// The same in dark mode: light text in a dark green bubble on a near-black screen.
    DarkChat,
    /// Black text on white, as a posting or a flyer photographed flat.
    Plain,
    /// The light chat screenshot saved at half size (540×1200), as messaging apps recompress forwarded images.
    SmallChat,
}

impl Layout {
    pub const ALL: [Layout; 4] = [Layout::LightChat, Layout::DarkChat, Layout::Plain, Layout::SmallChat];

    pub fn name(self) -> &'static str {
        match self {
            Layout::LightChat => "light chat",
            Layout::DarkChat => "dark chat",
            Layout::Plain => "plain",
            Layout::SmallChat => "small chat",
        }
    }
}

/// What of `text` the renderer can draw: DejaVu Sans has no emoji, and ImageMagick refuses a caption with glyphs
/// its font lacks. The text a screenshot is compared with is this one.
pub fn renderable(text: &str) -> String {
    text.chars().filter(|c| (*c as u32) < 0x2500 || c.is_alphanumeric()).collect()
}

/// The text as `caption:` pieces of at most a few lines each, to be stacked with `-append`: ImageMagick measures a
/// caption on one line first, and a long message overflows its 16,000-pixel width limit. It also reads `%` and
/// `\\` as escapes, and a leading `@` as a file name.
fn captions(text: &str) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    for paragraph in renderable(text).split('\n') {
        let mut piece = String::new();
        for word in paragraph.split(' ') {
            if piece.len() + word.len() > 300 && !piece.is_empty() {
                pieces.push(std::mem::take(&mut piece));
            }
            if !piece.is_empty() {
                piece.push(' ');
            }
            piece.push_str(word);
        }
        pieces.push(piece);
    }
    // An empty caption makes convert fail without a word; a blank line between paragraphs is not needed to read.
    pieces
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let escaped = p.replace('\\', "\\\\").replace('%', "%%");
            format!("caption:{}{escaped}", if escaped.starts_with('@') { " " } else { "" })
        })
        .collect()
}

fn convert(args: &[&str]) {
    let out =
        Command::new("convert").args(args).output().expect("ImageMagick's convert (scripts/setup.sh installs it)");
    assert!(out.status.success(), "convert {args:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
}

/// Render `text` into a PNG at `out`.
pub fn render(text: &str, layout: Layout, out: &Path) {
    let dir = out.parent().expect("a directory");
    let bubble = dir.join(format!("{}.bubble.png", out.file_stem().and_then(|s| s.to_str()).unwrap_or("x")));
    let bubble = bubble.to_str().expect("utf-8 path");
    let out = out.to_str().expect("utf-8 path");
    let captions = captions(text);
    let captions: Vec<&str> = captions.iter().map(String::as_str).collect();
    match layout {
        Layout::Plain => convert(
            &[
                &[
                    "-background",
                    "white",
                    "-fill",
                    "black",
                    "-font",
                    "DejaVu-Sans",
                    "-pointsize",
                    "34",
                    "-size",
                    "1000x",
                ],
                &captions[..],
                &["-append", "-bordercolor", "white", "-border", "40", out],
            ]
            .concat(),
        ),
        Layout::LightChat | Layout::DarkChat | Layout::SmallChat => {
            let dark = layout == Layout::DarkChat;
            let (screen, bubble_bg, ink, meta) = if dark {
                ("#0b141a", "#005c4b", "#e9edef", "#8696a0")
            } else {
                ("#efeae2", "#d9fdd3", "#111b21", "#667781")
            };
            convert(
                &[
                    &[
                        "-background",
                        bubble_bg,
                        "-fill",
                        ink,
                        "-font",
                        "DejaVu-Sans",
                        "-pointsize",
                        "40",
                        "-size",
                        "860x",
                    ],
                    &captions[..],
                    &[
                        "-append",
                        "-bordercolor",
                        bubble_bg,
                        "-border",
                        "28",
                        // The bubble's time stamp under its last line, as chat apps draw it: not message text.
                        "-gravity",
                        "south",
                        "-splice",
                        "0x40",
                        "-gravity",
                        "SouthEast",
                        "-fill",
                        meta,
                        "-pointsize",
                        "28",
                        "-annotate",
                        "+24+12",
                        "10:42",
                        bubble,
                    ],
                ]
                .concat(),
            );
            let screen = format!("xc:{screen}");
            let mut args = vec![
                "-size",
                "1080x2400",
                &screen,
                "-font",
                "DejaVu-Sans",
                "-pointsize",
                "34",
                "-fill",
                meta,
                "-annotate",
                "+48+60",
                "9:41",
                "-annotate",
                "+930+60",
                "87%",
                bubble,
                "-geometry",
                "+60+260",
                "-composite",
            ];
            if layout == Layout::SmallChat {
                args.extend(["-resize", "50%"]);
            }
            args.push(out);
            convert(&args);
        }
    }
    let _ = std::fs::remove_file(bubble);
}
