/*
 * duro/version.h — the version of duro.
 *
 * The macros give the version of the headers a program was compiled against;
 * duro_version() (duro.h) that of the libduro it runs with (compare them to
 * catch a mismatched shared library). The build fails unless the macros equal
 * the project version of CMakeLists.txt.
 */
#ifndef DURO_VERSION_H
#define DURO_VERSION_H

#define DURO_VERSION_MAJOR 0
#define DURO_VERSION_MINOR 1
#define DURO_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH", a string literal. */
#define DURO__STR_(x) #x
#define DURO__STR(x) DURO__STR_(x)
#define DURO_VERSION_STRING                                                                        \
    DURO__STR(DURO_VERSION_MAJOR) "." DURO__STR(DURO_VERSION_MINOR) "."                            \
        DURO__STR(DURO_VERSION_PATCH)

/* One number that grows with every release: 10000 * major + 100 * minor + patch. */
#define DURO_VERSION_NUMBER                                                                        \
    (DURO_VERSION_MAJOR * 10000 + DURO_VERSION_MINOR * 100 + DURO_VERSION_PATCH)

#endif
