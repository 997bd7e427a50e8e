/* SPDX-License-Identifier: ISC */
/* cli_int.h -- what cli.c and cli_config.c share; not for programs. */
#ifndef NT_CLI_INT_H
#define NT_CLI_INT_H

/* "FILE:LINE: " while an option of the defaults file is being set, else
 * "": put before the value in every message about a bad one. */
extern char cli__where[4096 + 32];

#endif
