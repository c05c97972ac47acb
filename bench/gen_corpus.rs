//! `archive-gen-corpus`: writes a synthetic article corpus for the offline
//! extraction benchmark (`bench/extract.sh`).
//!
//! Usage: `archive-gen-corpus --out DIR --count N [--seed S]`
//!
//! The articles mirror the real seeds in `tests/fixtures/seeds/`, in three
//! styles:
//!
//! * (a) `.md`: Markdown with YAML front matter (title/date/tags), Chinese
//!   paragraphs, `![图](http://…/pic/….jpg)` images and a trailing
//!   `[转入文章首发地址](http://…/NNN.shtml)` source link. About 1 in 20
//!   carries an "exploded URL" run like seed 000: the real image URL written
//!   one character per link, backwards, each character resolved against the
//!   page folder (`/` → site root, `.` → the folder itself, other characters
//!   → `folder + c`).
//! * (b) `.txt`: plain text with a first-line title, paragraphs, bare image
//!   file names (`a013bc05….jpg`, `微信图片_2023….png`) and a few bare
//!   `http://` URLs, like seeds 002 and 003.
//! * (c) `.txt`: a `标题:` / `发布日期:` / `浏览次数:` / `正文内容:` key-value
//!   header article like seed 004; some carry HTML fragments
//!   (`<img src="…">`, `<a href="…">原文链接</a>`).
//!
//! Files are about 4–8 KB (the exploded-URL ones up to ~11 KB), placed in
//! subfolders of 1000 files each
//! (`DIR/0000/`, `DIR/0001/`, …). The output is a pure function of
//! `(count, seed)`. Uses std only.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: archive-gen-corpus --out DIR --count N [--seed S]

Writes N synthetic articles (Markdown and plain text, 4-8 KB each, in
subfolders of 1000 files) under DIR, deterministically for seed S
(default 1), then prints the file count and total bytes.";

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

/// Style (a): Markdown with front matter, like seeds 000 and 001.
fn article_markdown(rng: &mut Rng, size: usize, exploded: bool) -> String {
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
        .saturating_sub(if exploded { 4800 } else { 450 })
        .max(s.len() + 300);
    fill(rng, &mut s, body_until, "\n\n");
    if exploded {
        // One real image URL, written backwards one character per link and
        // resolved against the page folder, as an HTML-to-Markdown tool
        // mangled seed 000.
        let real = image_url(rng, host);
        let root = format!("http://{host}/");
        for c in real.chars().rev() {
            let resolved = match c {
                '/' => root.clone(),
                '.' => folder.clone(),
                c => format!("{folder}{c}"),
            };
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

struct Args {
    out: PathBuf,
    count: u64,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut out = None;
    let mut count = None;
    let mut seed = 1u64;
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
                println!("{USAGE}");
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
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Args {
        out: out.ok_or("--out is required")?,
        count: count.ok_or("--count is required")?,
        seed,
    })
}

fn generate(args: &Args) -> io::Result<(u64, u64)> {
    fs::create_dir_all(&args.out)?;
    let mut total_bytes = 0u64;
    let (mut n_md, mut n_plain, mut n_header, mut n_exploded) = (0u64, 0u64, 0u64, 0u64);
    for i in 0..args.count {
        // One generator per article: article i is the same whatever N is.
        let mut rng = Rng::new(args.seed ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let dir = args.out.join(format!("{:04}", i / FILES_PER_DIR));
        if i % FILES_PER_DIR == 0 {
            fs::create_dir_all(&dir)?;
        }
        let size = rng.range(4096, 8192) as usize;
        let style = rng.below(10);
        let (text, ext) = if style < 4 {
            let exploded = rng.chance(1, 20);
            n_md += 1;
            n_exploded += exploded as u64;
            (article_markdown(&mut rng, size, exploded), "md")
        } else if style < 7 {
            n_plain += 1;
            (article_plain(&mut rng, size), "txt")
        } else {
            n_header += 1;
            (article_header(&mut rng, size), "txt")
        };
        let name = format!("{i:07}_{}.{ext}", rng.hex(16));
        fs::write(dir.join(name), text.as_bytes())?;
        total_bytes += text.len() as u64;
    }
    eprintln!(
        "styles: {n_md} markdown ({n_exploded} with an exploded URL), {n_plain} plain text, {n_header} key-value header"
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
