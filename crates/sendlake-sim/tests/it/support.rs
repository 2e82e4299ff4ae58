//! Reading generated files back without the crate's own code: a tiny DOM per `Person`
//! built with quick-xml, plus helpers to generate into a temp dir.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use quick_xml::Reader;
use quick_xml::events::Event;
use sendlake_sim::{Sen2SimConfig, Sen2SimSummary, write_sen2_returns};

/// One element: name, text (leaves only) and children in document order.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    pub fn date_of(&self, name: &str) -> Option<NaiveDate> {
        self.text_of(name)
            .map(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").unwrap())
    }
}

/// A parsed file: the `Header` and every `Person`.
pub struct Sen2File {
    pub header: Node,
    pub persons: Vec<Node>,
}

impl Sen2File {
    pub fn lea(&self) -> u16 {
        self.header
            .child("Source")
            .and_then(|s| s.text_of("LEA"))
            .unwrap()
            .parse()
            .unwrap()
    }

    pub fn census(&self) -> NaiveDate {
        self.header
            .child("CollectionDetails")
            .and_then(|c| c.date_of("ReferenceDate"))
            .unwrap()
    }
}

/// Parses a whole file into a DOM (fine for test-sized files).
pub fn parse(path: &Path) -> Sen2File {
    let xml = fs::read_to_string(path).unwrap();
    parse_str(&xml)
}

pub fn parse_str(xml: &str) -> Sen2File {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut header = None;
    let mut persons = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => stack.push(Node {
                name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
                ..Node::default()
            }),
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.decode().unwrap());
                }
            }
            Event::GeneralRef(r) => {
                // quick-xml 0.39 reports &amp; etc. separately from the text around them.
                if let Some(top) = stack.last_mut() {
                    let name = String::from_utf8(r.to_vec()).unwrap();
                    let resolved = quick_xml::escape::resolve_predefined_entity(&name).unwrap();
                    top.text.push_str(resolved);
                }
            }
            Event::End(_) => {
                let mut node = stack.pop().unwrap();
                // Only leaves keep text; indentation around children is dropped.
                node.text = if node.children.is_empty() {
                    node.text.trim().to_owned()
                } else {
                    String::new()
                };
                match node.name.as_str() {
                    "Person" => persons.push(node),
                    "Header" => header = Some(node),
                    _ => {
                        if let Some(parent) = stack.last_mut()
                            && parent.name != "Persons"
                            && parent.name != "Message"
                        {
                            parent.children.push(node);
                        }
                    }
                }
            }
            Event::Empty(e) => panic!(
                "unexpected empty element <{}/>",
                String::from_utf8_lossy(e.name().as_ref())
            ),
            Event::Eof => break,
            _ => {}
        }
    }
    Sen2File {
        header: header.expect("no Header"),
        persons,
    }
}

/// Generates a run into a fresh temp dir; the dir lives as long as the returned guard.
pub fn generate(cfg: &Sen2SimConfig) -> (tempfile::TempDir, Sen2SimSummary) {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_sen2_returns(cfg, dir.path()).unwrap();
    (dir, summary)
}

pub fn xml_files(summary: &Sen2SimSummary) -> Vec<PathBuf> {
    summary.files.iter().map(|f| f.path.clone()).collect()
}

pub use sendlake_test::workspace_root;
