//! napi bindings for ferrite-audio: conversion and error mapping only.
#![deny(clippy::all)]
