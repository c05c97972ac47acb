//! `archive-gen-corpus`: writes a synthetic article corpus for the offline
//! extraction benchmark (`bench/extract.sh`).
//!
//! Usage: `archive-gen-corpus --out DIR --count N [--seed S] [--mix M]`
//!
//! The output is a pure function of `(count, seed, mix)`: article `i` is
//! drawn from its own generator seeded by `(seed, i)`, so the first 1,000
//! articles of a 100k corpus are the 1k corpus.
//!
//! ## Mixes
//!
//! The first version of this generator put an exploded URL in 1 article of
//! 20 Markdown articles (1 in 50 overall) and wrote no HTML pages, and the
//! benchmarks it fed said archive was 1.5× faster than `lychee --dump`;
//! on a corpus shaped like the seeds it was 0.56× (issue 11). What a user
//! runs on decides what the benchmark generates, so the default mix,
//! `seeds`, follows `tests/fixtures/seeds/` (five real articles, one of
//! which is an exploded URL):
//!
//! | share | kind | like seed |
//! |---:|---|---|
//! | 20 % | an exploded run: the real image URL written one character per link, each character resolved against the page (`/` → site root, `.` → the page folder, other characters → folder + character); a quarter each forwards and backwards, in Markdown (`.md` or front-matter `.txt`) and in HTML pages | 000 |
//! | 20 % | Markdown with YAML front matter, 1–4 images and a `[转入文章首发地址](…)` source link, as `.md` or `.txt` | 001 |
//! | 15 % | HTML pages (`.html`) with `<img srcset>`, `<picture><source srcset>`, lazy `data-src`, links and a canonical URL | – |
//! | 25 % | plain text with a title line, bare image file names (`a013bc05….jpg`, `微信图片_2023….png`) and a few bare `http://` URLs | 002, 003 |
//! | 20 % | a `标题:` / `发布日期:` / `浏览次数:` / `正文内容:` key-value header, some with HTML fragments | 004 |
//!
//! One plain-text or key-value article in three, and one HTML page in
//! five (with `<meta charset="gbk">`), is written in GBK, as Chinese
//! archives scraped years ago often are: the decoder's guess is part of
//! the work. (GBK is written with `encoding_rs`, which archive depends on
//! anyway; everything else is std.)
//!
//! `--mix legacy` writes the old corpus byte for byte (40 % Markdown with
//! one exploded URL in 20 of them, 30 % plain text, 30 % key-value
//! header, all UTF-8), so that numbers measured before issue 11 can be
//! reproduced; `--mix clean` is `seeds` without exploded runs (their
//! share goes to ordinary Markdown articles), to price the runs by
//! difference.
//!
//! Articles are written to 4–8 KB of UTF-8 (an exploded one up to ~12 KB;
//! a GBK file comes out a third smaller: 2.5–11.3 KB, median 6.1 KB, on
//! the 10k corpus), placed in subfolders of 1000 files each (`DIR/0000/`,
//! `DIR/0001/`, …).

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: archive-gen-corpus --out DIR --count N [--seed S] [--mix M]

Writes N synthetic articles (Markdown, HTML and plain text, 4-8 KB each,
in subfolders of 1000 files) under DIR, deterministically for seed S
(default 1) and mix M, then prints the file count and total bytes.

Mixes:
  seeds   (default) the seed articles' mix: 20% exploded URLs (forwards
          and backwards, Markdown and HTML), 20% Markdown with images and
          a source link, 15% HTML pages with srcset and <picture>, 25%
          plain text with bare file names, 20% key-value headers; about
          one file in six GBK-encoded
  clean   as seeds, without exploded URLs (their share is plain Markdown)
  legacy  the corpus before issue 11: 1 exploded URL in 50 articles, no
          HTML pages, all UTF-8";

const FILES_PER_DIR: u64 = 1000;

/// xorshift64* — tiny, deterministic, good enough for text generation.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // splitmix64 step so that small seeds (0, 1, 2…) diverge at once and
        // the state is never zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        // The modulo bias is irrelevant for n this small.
        (self.next_u64() >> 11) % n
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &'a [&'a T]) -> &'a T {
        items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self, len: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        (0..len)
            .map(|_| DIGITS[self.below(16) as usize] as char)
            .collect()
    }

    fn digits(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Vocabulary, lifted from the seed articles.

const PHRASES: &[&str] = &[
    "为深入贯彻习近平总书记关于巡视整改工作的重要讲话精神",
    "落实党中央决策部署",
    "进一步压实学校责任部门巡视整改主体责任",
    "推动学校在巡视集中整改期内取得扎实整改成效",
    "校党委常务副书记主持会议并讲话",
    "围绕所牵头承担巡视整改任务的进展情况",
    "措施做法",
    "在巡视整改工作推进过程中遇到的困难和问题",
    "要准确把握巡视整改“后半篇文章”的重要意义",
    "充分理解“四个融入”要求",
    "做到“四个结合”",
    "强化台账意识",
    "突出任务闭环",
    "通过梳理总结促进问题解决",
    "实现目标导向、问题导向与效果导向相统一",
    "以巡视整改新成效推动学校事业高质量发展",
    "各部门积极配合、通力协作、落实责任",
    "下好“全校一盘棋”",
    "坚持上下联动、同题共答",
    "真正把中央重大决策部署落细落实落地",
    "推动学校内涵式发展再上新台阶",
    "以正视问题的自觉和刀刃向内的勇气推动全面审视查找问题",
    "真刀真枪解决问题",
    "确保学校整改落实和专项整治取得实效",
    "不划阶段、不分环节",
    "边学边查，立行立改",
    "把学习教育、调查研究、检视问题、整改落实各项工作贯彻落实始终",
    "学校领导班子成员要率先垂范",
    "强化“施工”意识",
    "实行项目化推进",
    "以钉钉子的精神逐条逐项地推进落实",
    "加强监督指导",
    "有效防范和坚决克服可能出现的形式主义和各种偏差",
    "确保高质量完成整改落实任务",
    "整改态度积极主动",
    "形成的整改落实举措具体有效",
    "看得见、抓得住",
    "紧扣监督检查中央巡视整改落实这一个主题",
    "深挖细究查找不足",
    "以专项巡视有力推进中央巡视整改走深走实",
    "统一思想认识，提高政治站位",
    "确定工作思路，研讨工作方法",
    "坚持目标导向、问题导向和效果导向",
    "全面监督检查学校党委制定的整改任务措施的落实情况",
    "推动建立整改长效机制",
    "坚决杜绝整改过程中“过关心态”、懈怠思想",
    "既要有分工，又要有合作，形成整改合力",
    "不断提高整改成效",
    "开辟发展新领域新赛道",
    "塑造发展新动能新优势",
    "营造风清气正的政治生态",
    "推动中国特色世界一流大学建设",
    "以实实在在的整改成效推动学校事业发展再上新台阶",
    "为推动学校高质量发展汇聚强大合力",
    "切实解决教师发展、学生成长中的急难愁盼问题",
    "要把巡视整改作为学校改革发展的重要契机",
    "牢牢把握意识形态工作的领导权管理权话语权",
    "加强领导班子、干部人才队伍和基层党组织建设",
    "打造有特色的一流本科教育",
    "推动深化教育教学改革",
    "全校上下要以巡视整改为契机",
    "既要着眼长远、站位全局，又要立足当前",
    "确保深化整改持续推进",
    "并最终落脚到促进改革、推动发展上",
];

const OPENERS: &[&str] = &[
    "会议指出",
    "会议强调",
    "他强调",
    "她表示",
    "校党委书记在讲话中指出",
    "校长在主持会议时强调",
    "与会人员一致认为",
    "据介绍",
    "同时",
    "会上",
];

const TITLES: &[&str] = &[
    "学校召开中央巡视整改工作专题推动视频会",
    "学校召开主题教育整改落实推进会",
    "学校召开深化巡视整改工作推进会议",
    "以专项巡视监督推动中央巡视整改见真章求实效",
    "党委落实中央巡视整改任务工作动员部署会召开",
    "学校召开巡视整改专项巡视情况集中反馈会",
    "学校党委理论学习中心组开展专题学习",
    "学校召开全面从严治党工作会议",
    "学校举行新学期工作部署会",
    "学校召开本科教育教学审核评估推进会",
];

const SCHOOLS: &[&str] = &[
    "南开大学",
    "西安交通大学",
    "中南财经政法大学",
    "北京理工大学",
];

const NAMES: &[&str] = &[
    "郝静秋",
    "于辰皓",
    "宗琪琪",
    "钟楠",
    "杨克欣",
    "李义丹",
    "王新生",
    "卢建军",
    "赵昌昌",
    "万清祥",
];

const HOSTS: &[&str] = &[
    "news.example.edu.cn",
    "www.example.edu.cn",
    "news.sample.edu.cn",
    "xww.demo-univ.edu.cn",
];

const CAPTIONS: &[&str] = &[
    "学校召开十九届中央巡视整改专项巡视情况集中反馈会",
    "学校召开中央巡视整改专项巡视情况汇报会",
    "会议现场",
    "校党委书记讲话",
    "校长主持会议",
    "与会人员认真听取报告",
];

// ---------------------------------------------------------------------------

struct Date {
    y: u64,
    m: u64,
    d: u64,
    hh: u64,
    mm: u64,
    ss: u64,
}

fn date(rng: &mut Rng) -> Date {
    Date {
        y: rng.range(2016, 2024),
        m: rng.range(1, 12),
        d: rng.range(1, 28),
        hh: rng.range(0, 23),
        mm: rng.range(0, 59),
        ss: rng.range(0, 59),
    }
}

/// One Chinese paragraph of roughly `target` bytes (UTF-8).
fn paragraph(rng: &mut Rng, target: usize) -> String {
    let mut p = String::with_capacity(target + 200);
    if rng.chance(1, 3) {
        p.push_str(rng.pick(OPENERS));
        p.push('，');
    }
    while p.len() < target {
        p.push_str(rng.pick(PHRASES));
        p.push(if rng.chance(1, 4) { '。' } else { '，' });
    }
    if p.ends_with('，') {
        p.pop();
        p.push('。');
    }
    p
}

/// Appends paragraphs separated by `sep` until `out` reaches `until` bytes.
fn fill(rng: &mut Rng, out: &mut String, until: usize, sep: &str) {
    while out.len() < until {
        let len = rng.range(250, 900) as usize;
        out.push_str(&paragraph(rng, len));
        out.push_str(sep);
    }
}

fn image_url(rng: &mut Rng, host: &str) -> String {
    format!(
        "http://{host}/pic/003/000/{}/00300{}_{}.jpg",
        rng.digits(3),
        rng.digits(6),
        rng.hex(8)
    )
}

fn page_folder(host: &str, d: &Date) -> String {
    format!("http://{host}/ywsd/system/{}/{:02}/{:02}/", d.y, d.m, d.d)
}

/// Which way an exploded URL is spelt, top to bottom.
#[derive(Clone, Copy)]
enum Order {
    Forwards,
    Backwards,
}

/// The characters of `real`, one per line, each resolved against the page
/// the way the broken scraper did: `/` became the site root, `.` the page
/// folder, any other character `folder + c`.
fn exploded_members(real: &str, host: &str, folder: &str, order: Order) -> Vec<String> {
    let root = format!("http://{host}/");
    let resolve = |c: char| match c {
        '/' => root.clone(),
        '.' => folder.to_string(),
        c => format!("{folder}{c}"),
    };
    match order {
        Order::Forwards => real.chars().map(resolve).collect(),
        Order::Backwards => real.chars().rev().map(resolve).collect(),
    }
}

/// Style (a): Markdown with front matter, like seeds 000 and 001.
/// `exploded` spells one image URL a character per link, in that order.
fn article_markdown(rng: &mut Rng, size: usize, exploded: Option<Order>) -> String {
    let host = rng.pick(HOSTS);
    let school = rng.pick(SCHOOLS);
    let d = date(rng);
    let folder = page_folder(host, &d);
    let mut s = String::with_capacity(size + 4096);
    let slug = rng.hex(32);
    let _ = write!(
        s,
        "---\ntitle: {school}->{} | example.info\ndate: {}-{:02}-{:02} {:02}:{:02}:{:02}\nurlname: {slug}\nslug: {slug}\ntags: \n- {school}\ncategories:\n- example.info\n- {school}\nauthorbox: false\nsidebar: false\n---\n",
        rng.pick(TITLES),
        d.y, d.m, d.d, d.hh, d.mm, d.ss
    );
    let _ = write!(
        s,
        "**新闻网讯** （记者 {} 摄影 {}）",
        rng.pick(NAMES),
        rng.pick(NAMES)
    );
    s.push_str(&paragraph(rng, 400));
    s.push_str("\n<!--more-->\n");
    // Leave room for the images and the source link.
    let body_until = size
        .saturating_sub(if exploded.is_some() { 4800 } else { 450 })
        .max(s.len() + 300);
    fill(rng, &mut s, body_until, "\n\n");
    if let Some(order) = exploded {
        // One real image URL, written one character per link and resolved
        // against the page folder, as an HTML-to-Markdown tool mangled
        // seed 000 (backwards there).
        let real = image_url(rng, host);
        for resolved in exploded_members(&real, host, &folder, order) {
            let _ = write!(s, "![图]({resolved})\n\n");
        }
    } else {
        for _ in 0..rng.range(1, 4) {
            let url = image_url(rng, host);
            let _ = write!(s, "![图]({url})\n\n");
        }
    }
    let _ = writeln!(s, "[转入文章首发地址]({folder}0300{}.shtml)", rng.digits(5));
    s
}

/// Style (b): plain text, like seeds 002 and 003.
fn article_plain(rng: &mut Rng, size: usize) -> String {
    let host = rng.pick(HOSTS);
    let mut s = String::with_capacity(size + 1024);
    s.push_str(rng.pick(TITLES));
    s.push('\n');
    let blank = if rng.chance(1, 2) { "\n\n" } else { "\n" };
    let _ = write!(s, "新闻网讯（记者 {}）", rng.pick(NAMES));
    s.push_str(&paragraph(rng, 300));
    s.push_str(blank);
    let images = rng.range(0, 3);
    let urls = rng.range(0, 2);
    let step = size / (images + urls + 1) as usize;
    for _ in 0..images {
        let until = s.len() + step;
        fill(rng, &mut s, until, blank);
        if rng.chance(1, 2) {
            let _ = write!(s, "\n{}.jpg\n\n", rng.hex(32));
        } else {
            let d = date(rng);
            let _ = write!(
                s,
                "\n微信图片_{}{:02}{:02}{:02}{:02}{:02}.png\n\n",
                d.y, d.m, d.d, d.hh, d.mm, d.ss
            );
        }
        s.push_str(rng.pick(CAPTIONS));
        s.push_str(blank);
    }
    for _ in 0..urls {
        let until = s.len() + step;
        fill(rng, &mut s, until, blank);
        let _ = write!(
            s,
            "详见 http://{host}/info/{}/{}.htm 。{blank}",
            rng.digits(4),
            rng.digits(5)
        );
    }
    fill(rng, &mut s, size, blank);
    s
}

/// Style (c): key-value header, like seed 004, sometimes with HTML bits.
fn article_header(rng: &mut Rng, size: usize) -> String {
    let host = rng.pick(HOSTS);
    let d = date(rng);
    let mut s = String::with_capacity(size + 1024);
    let _ = write!(
        s,
        "标题: {}{}\n发布日期: 日期：{}-{:02}-{:02} {:02}:{:02}\n浏览次数: {}\n正文内容:\n",
        rng.pick(SCHOOLS),
        rng.pick(TITLES),
        d.y,
        d.m,
        d.d,
        d.hh,
        d.mm,
        rng.range(10, 9999)
    );
    let html = rng.chance(2, 5);
    let half = s.len() + size / 2;
    fill(rng, &mut s, half, "\n");
    if html {
        for _ in 0..rng.range(1, 3) {
            if rng.chance(1, 5) {
                // A root-relative source, as scraped pages often keep.
                let _ = writeln!(
                    s,
                    "<p style=\"text-align:center\"><img src=\"/__local/{}/{}/{}.jpg\" width=\"600\"></p>",
                    rng.hex(1).to_uppercase(),
                    rng.hex(2).to_uppercase(),
                    rng.hex(32).to_uppercase()
                );
            } else {
                let _ = writeln!(
                    s,
                    "<p style=\"text-align:center\"><img src=\"http://{host}/__local/{}/{}/{}.jpg\" width=\"600\"></p>",
                    rng.hex(1).to_uppercase(),
                    rng.hex(2).to_uppercase(),
                    rng.hex(32).to_uppercase()
                );
            }
        }
    }
    let sep = if rng.chance(1, 3) { "\n\n" } else { "\n" };
    fill(rng, &mut s, size, sep);
    if html {
        let _ = writeln!(
            s,
            "<a href=\"http://{host}/info/{}/{}.htm\">原文链接</a>",
            rng.digits(4),
            rng.digits(5)
        );
    }
    s
}

/// Style (d): an HTML page as a scraper saved it, with the responsive
/// image markup of current news sites (`srcset`, `<picture>`, lazy
/// `data-src`), a canonical link and a few anchors; or, with `exploded`,
/// the page whose images the scraper exploded a character per `<img>`.
fn article_html(rng: &mut Rng, size: usize, exploded: Option<Order>, gbk: bool) -> String {
    let host = rng.pick(HOSTS);
    let d = date(rng);
    let folder = page_folder(host, &d);
    let page = format!("{folder}0300{}.shtml", rng.digits(5));
    let mut s = String::with_capacity(size + 4096);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"{}\">\n<title>{}-{}</title>\n<link rel=\"canonical\" href=\"{page}\">\n<meta property=\"og:image\" content=\"{}\">\n</head>\n<body>\n<div class=\"article\">\n<h1>{}</h1>\n<p class=\"info\">{}-{:02}-{:02} 来源：新闻网 作者：{}</p>\n",
        if gbk { "gbk" } else { "utf-8" },
        rng.pick(TITLES),
        rng.pick(SCHOOLS),
        image_url(rng, host),
        rng.pick(TITLES),
        d.y,
        d.m,
        d.d,
        rng.pick(NAMES)
    );
    let body_until = size
        .saturating_sub(if exploded.is_some() { 5200 } else { 1600 })
        .max(s.len() + 300);
    while s.len() < body_until {
        let len = rng.range(250, 900) as usize;
        let _ = writeln!(s, "<p>{}</p>", paragraph(rng, len));
    }
    if let Some(order) = exploded {
        let real = image_url(rng, host);
        for resolved in exploded_members(&real, host, &folder, order) {
            let _ = writeln!(
                s,
                "<p style=\"text-align:center\"><img src=\"{resolved}\" alt=\"图\"></p>"
            );
        }
    } else {
        for _ in 0..rng.range(1, 3) {
            let base = format!("http://{host}/images/{}/{:02}/{}", d.y, d.m, rng.hex(16));
            match rng.below(3) {
                0 => {
                    let _ = writeln!(
                        s,
                        "<p><img src=\"{base}_800.jpg\" srcset=\"{base}_480.jpg 480w, {base}_800.jpg 800w, {base}_1600.jpg 1600w\" sizes=\"(max-width: 600px) 480px, 800px\" alt=\"{}\"></p>",
                        rng.pick(CAPTIONS)
                    );
                }
                1 => {
                    let _ = writeln!(
                        s,
                        "<picture>\n<source type=\"image/webp\" srcset=\"{base}.webp 1x, {base}@2x.webp 2x\">\n<source media=\"(max-width: 600px)\" srcset=\"{base}_m.jpg\">\n<img src=\"{base}.jpg\" alt=\"{}\">\n</picture>",
                        rng.pick(CAPTIONS)
                    );
                }
                _ => {
                    let _ = writeln!(
                        s,
                        "<p><img class=\"lazy\" src=\"/static/blank.gif\" data-src=\"{base}.jpg\" alt=\"{}\"></p>",
                        rng.pick(CAPTIONS)
                    );
                }
            }
            let _ = writeln!(s, "<p class=\"caption\">{}</p>", rng.pick(CAPTIONS));
        }
    }
    let _ = writeln!(
        s,
        "<p>责任编辑：{}</p>\n<ul class=\"related\">\n<li><a href=\"/info/{}/{}.htm\">{}</a></li>\n<li><a href=\"http://{host}/info/{}/{}.htm\">{}</a></li>\n</ul>\n<p><a href=\"{page}\">原文链接</a></p>\n</div>\n</body>\n</html>",
        rng.pick(NAMES),
        rng.digits(4),
        rng.digits(5),
        rng.pick(TITLES),
        rng.digits(4),
        rng.digits(5),
        rng.pick(TITLES)
    );
    s
}

/// The shape of the corpus (see the module doc).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mix {
    Seeds,
    Clean,
    Legacy,
}

struct Args {
    out: PathBuf,
    count: u64,
    seed: u64,
    mix: Mix,
}

fn parse_args() -> Result<Args, String> {
    let mut out = None;
    let mut count = None;
    let mut seed = 1u64;
    let mut mix = Mix::Seeds;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match key.as_str() {
            "-h" | "--help" => {
                // Not `println!`: it panics when stdout is closed early
                // (`--help | head`).
                let _ = writeln!(io::stdout(), "{USAGE}");
                std::process::exit(0);
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--count" => {
                let v = value("--count")?;
                count = Some(v.parse().map_err(|_| format!("bad --count: {v}"))?);
            }
            "--seed" => {
                let v = value("--seed")?;
                seed = v.parse().map_err(|_| format!("bad --seed: {v}"))?;
            }
            "--mix" => {
                mix = match value("--mix")?.as_str() {
                    "seeds" => Mix::Seeds,
                    "clean" => Mix::Clean,
                    "legacy" => Mix::Legacy,
                    v => return Err(format!("bad --mix: {v} (seeds, clean or legacy)")),
                };
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Args {
        out: out.ok_or("--out is required")?,
        count: count.ok_or("--count is required")?,
        seed,
        mix,
    })
}

/// What one article is, for the summary line.
#[derive(Default)]
struct Counts {
    markdown: u64,
    html: u64,
    plain: u64,
    header: u64,
    exploded: u64,
    gbk: u64,
}

/// Article `i` of the legacy mix, exactly as the generator wrote it before
/// issue 11.
fn legacy_article(rng: &mut Rng, n: &mut Counts) -> (Vec<u8>, &'static str) {
    let size = rng.range(4096, 8192) as usize;
    let style = rng.below(10);
    let (text, ext) = if style < 4 {
        let exploded = rng.chance(1, 20);
        n.markdown += 1;
        n.exploded += exploded as u64;
        let order = exploded.then_some(Order::Backwards);
        (article_markdown(rng, size, order), "md")
    } else if style < 7 {
        n.plain += 1;
        (article_plain(rng, size), "txt")
    } else {
        n.header += 1;
        (article_header(rng, size), "txt")
    };
    (text.into_bytes(), ext)
}

/// GBK bytes of `text` (every character the generator writes has a GBK
/// code, so nothing is replaced).
fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

/// Article `i` of the seeds (or clean) mix; shares in the module doc.
fn seeds_article(rng: &mut Rng, mix: Mix, n: &mut Counts) -> (Vec<u8>, &'static str) {
    let size = rng.range(4096, 8192) as usize;
    let roll = rng.below(100);
    // Seed 000 is Markdown with front matter saved as `.txt`; so are many
    // archived articles.
    let md_ext = |rng: &mut Rng| if rng.chance(1, 2) { "md" } else { "txt" };
    let order = |rng: &mut Rng| {
        if rng.chance(1, 2) {
            Order::Forwards
        } else {
            Order::Backwards
        }
    };
    if roll < 20 && mix == Mix::Seeds {
        n.exploded += 1;
        let order = order(rng);
        if rng.chance(1, 2) {
            n.markdown += 1;
            let ext = md_ext(rng);
            (article_markdown(rng, size, Some(order)).into_bytes(), ext)
        } else {
            n.html += 1;
            (
                article_html(rng, size, Some(order), false).into_bytes(),
                "html",
            )
        }
    } else if roll < 40 {
        n.markdown += 1;
        let ext = md_ext(rng);
        (article_markdown(rng, size, None).into_bytes(), ext)
    } else if roll < 55 {
        n.html += 1;
        let encode = rng.chance(1, 5);
        let text = article_html(rng, size, None, encode);
        n.gbk += encode as u64;
        let bytes = if encode {
            gbk(&text)
        } else {
            text.into_bytes()
        };
        (bytes, "html")
    } else {
        let encode = rng.chance(1, 3);
        let text = if roll < 80 {
            n.plain += 1;
            article_plain(rng, size)
        } else {
            n.header += 1;
            article_header(rng, size)
        };
        n.gbk += encode as u64;
        let bytes = if encode {
            gbk(&text)
        } else {
            text.into_bytes()
        };
        (bytes, "txt")
    }
}

fn generate(args: &Args) -> io::Result<(u64, u64)> {
    fs::create_dir_all(&args.out)?;
    let mut total_bytes = 0u64;
    let mut n = Counts::default();
    for i in 0..args.count {
        // One generator per article: article i is the same whatever N is.
        let mut rng = Rng::new(args.seed ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let dir = args.out.join(format!("{:04}", i / FILES_PER_DIR));
        if i % FILES_PER_DIR == 0 {
            fs::create_dir_all(&dir)?;
        }
        let (bytes, ext) = match args.mix {
            Mix::Legacy => legacy_article(&mut rng, &mut n),
            Mix::Seeds | Mix::Clean => seeds_article(&mut rng, args.mix, &mut n),
        };
        let name = format!("{i:07}_{}.{ext}", rng.hex(16));
        fs::write(dir.join(name), &bytes)?;
        total_bytes += bytes.len() as u64;
    }
    eprintln!(
        "styles: {} markdown, {} html, {} plain text, {} key-value header; {} with an exploded URL, {} in GBK",
        n.markdown, n.html, n.plain, n.header, n.exploded, n.gbk
    );
    Ok((args.count, total_bytes))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("archive-gen-corpus: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match generate(&args) {
        Ok((files, bytes)) => {
            let _ = writeln!(
                io::stdout(),
                "files: {files}\nbytes: {bytes}\nMB: {:.1}",
                bytes as f64 / 1e6
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("archive-gen-corpus: {}: {e}", args.out.display());
            ExitCode::from(1)
        }
    }
}
