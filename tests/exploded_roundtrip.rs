//! Round trip of the exploded-URL repair on generated articles.
//!
//! Each case takes one to three realistic image URLs and a page URL,
//! explodes them the way the scraper did (every character joined to the
//! page URL, with WHATWG or Python `urljoin` semantics), writes the links
//! into a Markdown or HTML article (forwards or backwards, with ordinary
//! links around them, with or without a source link), scans it with the
//! real pipeline, and requires the rebuilt URLs to be exactly the
//! originals (as the page would resolve them), with every exploded link a
//! member of a finding and no ordinary link swallowed.
//!
//! The generator is seeded (`ARCHIVE_ROUNDTRIP_SEED`, default fixed) and
//! runs `ARCHIVE_ROUNDTRIP_CASES` cases (default 4000). The success rate
//! is printed; it must be 100%.
//!
//! Cases that are truly ambiguous are not generated; each exclusion is a
//! rule here, with its reason:
//!
//! 1. The scraper's page is at the site root, so `.` and `/` are the same
//!    link. The host/path boundary and the extension dot are then decided
//!    by host-name and extension knowledge, so on root pages: the first
//!    path segment is not itself a top-level-domain label (`/cn/`, `/de/`),
//!    path and query have no `.` except the file extension's, extensions
//!    come from the known list, and no original is a `../` relative path.
//! 2. The page URL is a folder (ends in `/`): then `urljoin(page, " ")`
//!    (both semantics) and Python's `?` and `#` give the folder, the same
//!    link as `.`. So originals on folder pages have no space, and under
//!    Python semantics no query or fragment.
//! 3. A query is `key=value` pairs with non-empty values (or a known
//!    keyless CDN directive); a fragment has no `=`, `.` or `/`. A page link
//!    before `key=value` is read as `?`, before anything else as `#`.
//! 4. A space only stands inside a file name that goes on to a media
//!    extension (`IMG 2019.jpg`).
//! 5. Back to back, every URL after the first starts with a scheme, or
//!    with `//` or `/` right after a URL that ends in a media file name
//!    (no query or fragment): that is where a new URL can be seen to start.
//! 6. A relative or root-relative original names a media file (has a media
//!    extension): without a scheme, a host or an extension, nothing tells
//!    a spelled path from numbered links such as `/notes/1` … `/notes/9`.
//! 7. An original has at least `links.min_exploded_run` characters (6 by
//!    default; `1.JPG` is five links, below what the setting calls a run).
//! 8. Navigation links (`[首页](/)`, `[返回列表](./)`, `[返回顶部](#)`)
//!    stand after the images in reading order, and before them only when
//!    the first URL starts with a scheme: `/` right before `/img/a.jpg`
//!    could be the URL's own first character.
//! 9. An ordinary link between two exploded images is in another folder
//!    unless the document names its page (a source link): an unnamed page
//!    is inferred as the longer-named link of the run's folder, and a
//!    neighbour in that folder could be taken for it.
//! 10. On a root page, no navigation link follows a protocol-relative
//!     image: `./` and `/` there are the same link, so two of them read
//!     the other way round make a `//`, and the URL read backwards a host
//!     name (`//www.gov.cn/…/503` against `//305.30.….nc/vog/www`).

use archive::config::Config;
use archive::diagnose::UrlFilter;
use archive::model::Status;
use archive::pipeline::scan_document;
use archive::source::Document;
use archive::vocab::{FindingKind, Reason};
use url::Url;

/// SplitMix64: small, seedable, good enough to pick from lists.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
    /// `min..=max` characters drawn from `alphabet`.
    fn word(&mut self, min: usize, max: usize, alphabet: &str) -> String {
        let len = min + self.below(max - min + 1);
        self.id(len, alphabet)
    }
    fn id(&mut self, len: usize, alphabet: &str) -> String {
        let a: Vec<char> = alphabet.chars().collect();
        (0..len).map(|_| a[self.below(a.len())]).collect()
    }
}

const HOSTS: &[&str] = &[
    "news.nankai.edu.cn",
    "mmbiz.qpic.cn",
    "wx1.sinaimg.cn",
    "img.qq.com",
    "pic.example.net",
    "res.cloudinary.com",
    "upload.wikimedia.org",
    "www.tsinghua.edu.cn",
    "p3.itc.cn",
    "cdn.jsdelivr.net",
    "images.unsplash.com",
    "static.zhihu.com",
    "www.gov.cn",
    "10.0.12.7",
    "img.alicdn.com",
];
const FOLDERS: &[&str] = &[
    "pic",
    "upload",
    "images",
    "2022",
    "03",
    "25",
    "ywsd",
    "system",
    "mmbiz_jpg",
    "mmbiz_png",
    "large",
    "wikipedia",
    "commons",
    "thumb",
    "news",
    "uploads",
    "files",
    "v1",
    "img",
    "attach",
    "W020231109",
    "202311",
];
const EXTENSIONS: &[&str] = &[
    "jpg", "png", "gif", "jpeg", "webp", "svg", "JPG", "PNG", "avif",
];
const QUERIES: &[&str] = &[
    "wx_fmt=jpeg",
    "wx_fmt=gif&tp=webp&wxfrom=5",
    "w=640&h=480",
    "x-oss-process=image/resize,w_500",
    "imageView2/2/w/640",
    "v=3",
    "size=large&fit=crop",
    "from=appmsg",
];
const FRAGMENTS: &[&str] = &["top", "sec-2", "p3", "gallery", "fig_1"];
const PAGE_HOSTS: &[&str] = &[
    "news.nankai.edu.cn",
    "www.example.edu.cn",
    "news.tsinghua.edu.cn",
    "mp.weixin.qq.com",
];

/// The kind of page the scraper was on.
#[derive(Clone, Copy, Debug, PartialEq)]
enum PageShape {
    RootFile,
    RootFolder,
    DeepFile,
    DeepFolder,
    NoExtension,
    /// `content.jsp?urltype=…` at the site root (VSB-style CMS).
    RootQuery,
    /// `info/1002.htm?id=…` in a folder.
    DeepQuery,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Semantics {
    Whatwg,
    Python,
}

fn page_url(rng: &mut Rng) -> (Url, PageShape) {
    let host = rng.pick(PAGE_HOSTS);
    let scheme = if rng.chance(50) { "http" } else { "https" };
    let shapes = [
        PageShape::RootFile,
        PageShape::RootFolder,
        PageShape::DeepFile,
        PageShape::DeepFolder,
        PageShape::NoExtension,
        PageShape::RootQuery,
        PageShape::DeepQuery,
    ];
    let shape = shapes[rng.below(shapes.len())];
    let dated = format!(
        "ywsd/system/2022/0{}/{}",
        1 + rng.below(9),
        10 + rng.below(18)
    );
    let path = match shape {
        PageShape::RootFile => format!("index.{}", rng.pick(&["htm", "html", "shtml"])),
        PageShape::RootFolder => String::new(),
        PageShape::DeepFile => format!(
            "{dated}/0300{}.{}",
            rng.id(5, "0123456789"),
            rng.pick(&["shtml", "htm", "html"])
        ),
        PageShape::DeepFolder => format!("{dated}/"),
        PageShape::NoExtension => format!("news/article{}", rng.id(4, "0123456789")),
        PageShape::RootQuery => format!(
            "content.jsp?urltype=news.NewsContentUrl&wbtreeid=1001&wbnewsid={}",
            rng.id(4, "0123456789")
        ),
        PageShape::DeepQuery => format!("info/1002.htm?id={}", rng.id(5, "0123456789")),
    };
    let url = Url::parse(&format!("{scheme}://{host}/{path}")).unwrap();
    (url, shape)
}

fn at_root(shape: PageShape) -> bool {
    matches!(
        shape,
        PageShape::RootFile | PageShape::RootFolder | PageShape::RootQuery
    )
}

fn is_folder(shape: PageShape) -> bool {
    matches!(shape, PageShape::RootFolder | PageShape::DeepFolder)
}

/// How an image URL begins: the forms rule 5 lets follow another URL.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Start {
    Scheme,
    ProtocolRelative,
    RootRelative,
    Relative,
}

/// A realistic image URL. Returns it and whether it ends in a media
/// file name (no query, no fragment).
fn image_url(rng: &mut Rng, shape: PageShape, sem: Semantics, start: Start) -> (String, bool) {
    let root = at_root(shape);
    let no_delimiters = is_folder(shape) && sem == Semantics::Python;
    let mut path = Vec::new();
    for _ in 0..rng.below(5) {
        let seg = match rng.below(4) {
            0 => rng.word(1, 12, "abcdefghijkmnopqrstuvwxyzABCDEFGH0123456789_-"),
            1 => format!("%E6%A0%A1%E5%9B%AD{}", rng.id(2, "0123456789")),
            _ => rng.pick(FOLDERS).to_string(),
        };
        let tld_like = seg.len() == 2 && seg.chars().all(|c| c.is_ascii_alphabetic());
        if root && path.is_empty() && tld_like {
            continue;
        }
        path.push(seg);
    }
    // Rule 6: a relative original names a media file.
    let relative = matches!(start, Start::RootRelative | Start::Relative);
    let has_ext = relative || rng.chance(80);
    let stem = match rng.below(5) {
        0 => rng.word(1, 3, "0123456789"),
        1 => format!(
            "%E5%BE%AE%E4%BF%A1%E5%9B%BE%E7%89%87_{}",
            rng.id(14, "0123456789")
        ),
        2 if !is_folder(shape) && has_ext => format!("IMG {}", rng.id(4, "0123456789")),
        2 if !root => format!("photo.{}", rng.id(2, "0123456789")),
        _ => format!(
            "{}_{}",
            rng.id(11, "0123456789"),
            rng.id(8, "0123456789abcdef")
        ),
    };
    let name = if has_ext {
        format!("{stem}.{}", rng.pick(EXTENSIONS))
    } else {
        stem
    };
    path.push(name);
    let mut url = match start {
        Start::Scheme => {
            let host = rng.pick(HOSTS);
            let port = if rng.chance(10) { ":8080" } else { "" };
            let scheme = if rng.chance(50) { "http" } else { "https" };
            format!("{scheme}://{host}{port}/{}", path.join("/"))
        }
        Start::ProtocolRelative => format!("//{}/{}", rng.pick(HOSTS), path.join("/")),
        Start::RootRelative => format!("/{}", path.join("/")),
        Start::Relative if !root && rng.chance(30) => format!("../{}", path.join("/")),
        Start::Relative => path.join("/"),
    };
    let mut media_end = has_ext;
    let query_ok = !no_delimiters;
    if query_ok && rng.chance(35) {
        let q = rng.pick(QUERIES);
        if !(root && q.contains('.')) {
            url.push('?');
            url.push_str(q);
            media_end = false;
        }
    }
    if query_ok && rng.chance(15) {
        url.push('#');
        url.push_str(rng.pick(FRAGMENTS));
        media_end = false;
    }
    (url, media_end)
}

/// `urljoin(page, c)` as the scraper's library did it.
fn join(page: &Url, c: char, sem: Semantics) -> String {
    match sem {
        Semantics::Whatwg => page.join(&c.to_string()).unwrap().to_string(),
        Semantics::Python => {
            let folder = page.join(".").unwrap();
            match c {
                '/' => page.join("/").unwrap().to_string(),
                '.' => folder.to_string(),
                '?' | '#' | ' ' => page.to_string(),
                c => format!("{folder}{c}"),
            }
        }
    }
}

struct Case {
    text: String,
    name: &'static str,
    expected: Vec<String>,
    exploded_links: usize,
    describe: String,
}

fn markdown_escape(url: &str) -> String {
    url.replace('(', "\\(").replace(')', "\\)")
}

fn html_escape(url: &str) -> String {
    url.replace('&', "&amp;").replace('"', "&quot;")
}

fn case(rng: &mut Rng) -> Case {
    let (page, shape) = page_url(rng);
    let sem = if rng.chance(50) {
        Semantics::Whatwg
    } else {
        Semantics::Python
    };
    let html = rng.chance(40);
    let count = 1 + [0, 0, 0, 1, 1, 2][rng.below(6)];
    let mut originals = Vec::new();
    let mut previous_media_end = false;
    for i in 0..count {
        let start = if i == 0 {
            [
                Start::Scheme,
                Start::Scheme,
                Start::ProtocolRelative,
                Start::RootRelative,
                Start::Relative,
            ][rng.below(5)]
        } else if previous_media_end && rng.chance(40) {
            [Start::ProtocolRelative, Start::RootRelative][rng.below(2)]
        } else {
            Start::Scheme
        };
        // Rule 7: a run shorter than `links.min_exploded_run` is not one.
        let (url, media_end) = loop {
            let (url, media_end) = image_url(rng, shape, sem, start);
            if url.len() >= Config::default().links.min_exploded_run {
                break (url, media_end);
            }
        };
        previous_media_end = media_end;
        originals.push(url);
    }
    let mut groups: Vec<Vec<String>> = originals
        .iter()
        .map(|u| u.chars().map(|c| join(&page, c, sem)).collect())
        .collect();
    let with_source = rng.chance(60);
    let folder = page.join(".").unwrap();
    // Rule 9: an ordinary link between two images is in another folder
    // unless the document names its page.
    let between = |rng: &mut Rng| -> (String, bool) {
        match rng.below(3) {
            0 if with_source => (
                format!("{folder}0300{}.shtml", rng.id(5, "0123456789")),
                false,
            ),
            1 if with_source => (
                format!("{folder}photo_{}.jpg", rng.id(3, "0123456789")),
                true,
            ),
            _ => (
                format!(
                    "http://other.example.com/banner_{}.png",
                    rng.id(2, "0123456789")
                ),
                true,
            ),
        }
    };
    // Rule 8: navigation links (`/`, `./`, `#`) stand after the images in
    // reading order, and before them only when the first URL has a scheme.
    let navigation = |rng: &mut Rng| -> Vec<(String, bool)> {
        (0..rng.below(3))
            .map(|_| (rng.pick(&["/", "./", "#"]).to_string(), false))
            .collect()
    };
    // Rule 10: on a root page, nothing follows a protocol-relative image.
    let nav_end = if at_root(shape) && originals.iter().any(|o| o.starts_with("//")) {
        Vec::new()
    } else {
        navigation(rng)
    };
    let nav_start = if originals[0].starts_with("http") {
        navigation(rng)
    } else {
        Vec::new()
    };
    let mut reading: Vec<(String, bool)> = nav_start;
    let group_count = groups.len();
    for (i, g) in groups.iter_mut().enumerate() {
        reading.extend(g.drain(..).map(|u| (u, true)));
        if i + 1 < group_count && rng.chance(25) {
            reading.push(between(rng));
        }
    }
    reading.extend(nav_end);
    let exploded_links: usize = originals.iter().map(|o| o.chars().count()).sum();
    // Backwards, the scraper's list is reversed as a whole: read from the
    // end, the images come in the order rule 5 was applied to.
    let backwards = rng.chance(50);
    if backwards {
        reading.reverse();
    }
    let ordinary = |rng: &mut Rng| -> (String, bool) {
        match rng.below(3) {
            0 => (
                format!("{folder}photo_{}.jpg", rng.id(3, "0123456789")),
                true,
            ),
            1 => (
                format!(
                    "http://other.example.com/banner_{}.png",
                    rng.id(2, "0123456789")
                ),
                true,
            ),
            _ => (
                format!("https://www.example.org/p/{}.html", rng.id(3, "0123456789")),
                false,
            ),
        }
    };
    let before: Vec<(String, bool)> = (0..rng.below(3)).map(|_| ordinary(rng)).collect();
    let after: Vec<(String, bool)> = (0..rng.below(3)).map(|_| ordinary(rng)).collect();
    let mut text = String::new();
    if html {
        text.push_str("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>南开新闻</title></head><body>\n<p>校党委常务副书记主持会议并讲话。</p>\n");
        for (u, image) in before.iter().chain(&reading).chain(&after) {
            text.push_str(&if *image {
                format!("<p><img src=\"{}\" alt=\"图\"></p>\n", html_escape(u))
            } else {
                format!("<p><a href=\"{}\">返回</a></p>\n", html_escape(u))
            });
        }
        if with_source {
            text.push_str(&format!(
                "<p><a href=\"{}\">原文链接</a></p>\n",
                html_escape(page.as_str())
            ));
        }
        text.push_str("</body></html>\n");
    } else {
        text.push_str("---\ntitle: 学校召开专题推动视频会\ndate: 2022-04-01 01:22:33\n---\n**南开新闻网讯** 会议并讲话。\n\n");
        for (u, image) in before.iter().chain(&reading).chain(&after) {
            let sep = if rng.chance(50) { "\n\n" } else { "\n" };
            let bang = if *image { "!" } else { "" };
            text.push_str(&format!("{bang}[图]({}){sep}", markdown_escape(u)));
        }
        if with_source {
            text.push_str(&format!("\n[转入文章首发地址]({})\n", page));
        }
    }
    let expected = originals
        .iter()
        .map(|o| page.join(o).unwrap().to_string())
        .collect();
    Case {
        name: if html { "a.html" } else { "a.md" },
        text,
        expected,
        exploded_links,
        describe: format!(
            "page {page} ({shape:?}, {sem:?}), {} image(s), backwards {backwards}, source link {with_source}, {} before / {} after",
            originals.len(),
            before.len(),
            after.len()
        ),
    }
}

/// Runs one case; the failure, if any, in words.
fn run(case: &Case, config: &Config, filter: &UrlFilter) -> Result<(), String> {
    let doc = Document::from_bytes(case.name.to_string(), case.text.as_bytes());
    let scanned = scan_document(doc, config, filter);
    let mut rebuilt: Vec<String> = scanned
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::ExplodedUrl)
        .map(|f| f.suggestions[0].url.clone())
        .collect();
    let mut expected = case.expected.clone();
    rebuilt.sort();
    expected.sort();
    if rebuilt != expected {
        return Err(format!("rebuilt {rebuilt:?}, expected {expected:?}"));
    }
    let members = scanned
        .links
        .iter()
        .filter(|l| l.reason == Some(Reason::ExplodedUrl))
        .count();
    if members != case.exploded_links {
        return Err(format!(
            "{members} links are run members, {} were exploded",
            case.exploded_links
        ));
    }
    let stray = scanned
        .links
        .iter()
        .filter(|l| l.finding.is_none() && l.status == Status::Truncated)
        .map(|l| l.url.clone())
        .collect::<Vec<_>>();
    if !stray.is_empty() {
        return Err(format!("left behind as truncated: {stray:?}"));
    }
    Ok(())
}

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn exploded_urls_round_trip_on_generated_articles() {
    let seed = env_number("ARCHIVE_ROUNDTRIP_SEED", 0x5eed_0008);
    let cases = env_number("ARCHIVE_ROUNDTRIP_CASES", 4000);
    let config = Config::default();
    let filter = UrlFilter::new(&config.links);
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    let mut images = 0;
    for n in 0..cases {
        let c = case(&mut rng);
        images += c.expected.len();
        if let Err(why) = run(&c, &config, &filter) {
            // The first failure shows its article; the others their URLs.
            let text = if failures.is_empty() {
                c.text.as_str()
            } else {
                ""
            };
            failures.push(format!("case {n}: {why}\n  {}\n{text}", c.describe));
        }
    }
    let ok = cases as usize - failures.len();
    println!(
        "exploded round trip (seed {seed:#x}): {ok}/{cases} articles, {images} images: {:.2}% rebuilt exactly",
        100.0 * ok as f64 / cases as f64
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed; the first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}
