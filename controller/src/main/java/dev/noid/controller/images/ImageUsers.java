package dev.noid.controller.images;

import java.util.List;

/** Who uses an image: an image that VMs or checkpoints are made from cannot be removed. */
public interface ImageUsers {
  /** Names ("user/vm" or checkpoint ids) of what uses {@code digest}; empty when nothing does. */
  List<String> using(String digest);
}
