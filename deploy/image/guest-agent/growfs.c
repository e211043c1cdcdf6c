/*
 * noid-guest-agent growfs MOUNTPOINT: grows the ext4 file system mounted at
 * MOUNTPOINT, online, to fill its block device.
 *
 * The node agent grows a VM's copy of the image's disk to the VM's disk_mib
 * (sparsely); without this the guest would see a bigger /dev/vda but a root
 * file system of the image's size. The guest has no resize2fs (an image may be
 * any rootfs with a /bin/sh), so the agent does what resize2fs does for a
 * mounted ext4: one EXT4_IOC_RESIZE_FS ioctl with the new block count.
 *
 * Exit 0 when the file system fills the device (grown now, or already),
 * 1 with the reason on stderr otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "growfs.h"

/* Debian 12's linux-libc-dev has no <linux/ext4.h>; the value is ABI. */
#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#endif

#define EXT4_SUPER_MAGIC 0xEF53
#define EXT4_FEATURE_INCOMPAT_64BIT 0x80u

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The device node of the file system at MOUNTPOINT. devtmpfs names nodes as
 * the kernel does, and sysfs tells that name for the mount's st_dev, so this
 * needs neither udev's /dev/block links nor a parse of /proc/self/mountinfo. */
static int device_of(const char *mountpoint, char *dev, size_t devlen)
{
	struct stat st;
	if (stat(mountpoint, &st) < 0)
		return -1;
	char path[64], line[256];
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major(st.st_dev), minor(st.st_dev));
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "DEVNAME=", 8) == 0) {
			line[strcspn(line, "\n")] = 0;
			snprintf(dev, devlen, "/dev/%s", line + 8);
			found = 1;
		}
	}
	fclose(f);
	if (!found)
		errno = ENOENT;
	return found ? 0 : -1;
}

/* Block size and block count from the ext4 superblock (1024 bytes in). */
static int read_super(int fd, uint32_t *block_size, uint64_t *blocks)
{
	uint8_t sb[1024];
	if (pread(fd, sb, sizeof(sb), 1024) != (ssize_t)sizeof(sb))
		return -1;
	if ((sb[0x38] | sb[0x39] << 8) != EXT4_SUPER_MAGIC) {
		errno = EINVAL;
		return -1;
	}
	*block_size = 1024u << le32(sb + 0x18);
	*blocks = le32(sb + 0x04);
	if (le32(sb + 0x60) & EXT4_FEATURE_INCOMPAT_64BIT)
		*blocks |= (uint64_t)le32(sb + 0x150) << 32;
	return 0;
}

int run_growfs(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: noid-guest-agent growfs MOUNTPOINT\n");
		return 2;
	}
	const char *mnt = argv[2];
	char dev[300];
	if (device_of(mnt, dev, sizeof(dev)) < 0) {
		fprintf(stderr, "growfs: no block device for %s: %s\n", mnt, strerror(errno));
		return 1;
	}
	int dfd = open(dev, O_RDONLY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "growfs: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	uint64_t dev_bytes = 0, blocks = 0;
	uint32_t bsize = 0;
	if (ioctl(dfd, BLKGETSIZE64, &dev_bytes) < 0 || read_super(dfd, &bsize, &blocks) < 0) {
		fprintf(stderr, "growfs: %s: not an ext4 block device: %s\n", dev, strerror(errno));
		close(dfd);
		return 1;
	}
	close(dfd);
	uint64_t want = dev_bytes / bsize;
	if (want <= blocks) {
		printf("growfs: %s on %s already fills it (%llu blocks)\n", mnt, dev, (unsigned long long)blocks);
		return 0;
	}
	int mfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0 || ioctl(mfd, EXT4_IOC_RESIZE_FS, &want) < 0) {
		fprintf(stderr, "growfs: cannot grow %s from %llu to %llu blocks: %s\n", mnt,
			(unsigned long long)blocks, (unsigned long long)want, strerror(errno));
		if (mfd >= 0)
			close(mfd);
		return 1;
	}
	close(mfd);
	printf("growfs: %s grown from %llu to %llu MiB\n", mnt,
	       (unsigned long long)(blocks * bsize >> 20), (unsigned long long)(want * bsize >> 20));
	return 0;
}
