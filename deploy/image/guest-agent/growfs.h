/* Tool modes of noid-guest-agent that live in files of their own. */
#ifndef NOID_GROWFS_H
#define NOID_GROWFS_H

int run_growfs(int argc, char **argv);

#endif
