package dev.noid.controller.images;

import java.nio.file.Path;

/**
 * Where the controller keeps fleet images' files: DATA_DIR/images unless {@code --images-dir}
 * says otherwise. Controllers that share a store must share this directory too (issue 22): a
 * new leader serves pulls of images another controller imported.
 */
public record ImagesDir(Path path) {}
