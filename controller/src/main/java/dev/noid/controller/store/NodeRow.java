package dev.noid.controller.store;

/** A node as stored: its name and its registration as JSON. */
public record NodeRow(String name, String document) {}
