//! Integration tests: the real server on 127.0.0.1 with an ephemeral port and a fresh data
//! directory, driven over real WebSockets by the signaling client and over real HTTP.

mod acme;
mod api;
mod audit;
mod authz;
mod bench;
mod browser;
mod chaos;
mod cli;
mod cluster;
mod demo;
mod doctor;
mod durability;
mod fuzz_corpus;
mod hearing;
mod helpers;
mod hostile;
mod hostile_flood;
mod media;
mod media_loss;
mod media_process;
mod netlab;
mod package;
mod pages;
mod postgres;
mod reliability;
mod simulate;
mod tls;
mod turn;
mod wallboard;
mod weak_link;
