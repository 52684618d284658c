# taskshell — build, run, test, bench.  GNU make.
#
#   make run     install what is missing, build, run scripts/quickstart.lua
#   make test    install what is missing, build, run every C test and spec
#   make bench   the standard workload beside a same-run pgbench baseline
#   make asan    build with AddressSanitizer + UBSan and run every test
#   make db      start the private local cluster and print its URL
#   make install install under PREFIX (default /usr/local), staged under DESTDIR

CC      ?= cc
BUILD   ?= build
LUA_INC ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIB ?= $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
PQ_INC  ?= -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
PQ_LIB  ?= -lpq

# Lua's own warning set, as errors (WERROR= keeps them warnings: luarocks
# builds with whatever compiler the user has).
WERROR  ?= -Werror
WARN    = -Wall -Wextra -Wshadow -Wsign-compare -Wundef -Wwrite-strings \
          -Wredundant-decls -Wdisabled-optimization -Wdouble-promotion \
          -Wmissing-declarations -Wmissing-prototypes -Wstrict-prototypes $(WERROR) \
          -Wno-format-truncation
OPT     ?= -O2 -g
# `override`, as lua-cjson does: CFLAGS given on the command line (luarocks
# passes its own) are added to, not replaced.
override CFLAGS  += -std=gnu11 $(OPT) $(WARN) -fPIC -D_GNU_SOURCE $(SANITIZE)
override LDFLAGS += $(SANITIZE)
MODULE_LDFLAGS ?= -shared

CORE_SRC    = $(wildcard src/core/*.c)
BINDING_SRC = $(wildcard src/binding/*.c)
HOST_SRC    = $(wildcard src/host/*.c)
CTEST_SRC   = $(wildcard spec/c/*.c)

CORE_OBJ    = $(CORE_SRC:src/%.c=$(BUILD)/obj/%.o)
BINDING_OBJ = $(BINDING_SRC:src/%.c=$(BUILD)/obj/%.o)
HOST_OBJ    = $(HOST_SRC:src/%.c=$(BUILD)/obj/%.o)

CORE_LIB    = $(BUILD)/libtaskdb_core.a
MODULE      = $(BUILD)/taskdb.so
HOST        = $(BUILD)/taskshell
SQLDUMP     = $(BUILD)/taskdb-sql
CTESTS      = $(CTEST_SRC:spec/c/%.c=$(BUILD)/ctest/%)
HELPERS     = $(BUILD)/hangd $(BUILD)/delayline

.PHONY: all run test bench asan db db-stop deps check clean valgrind \
        module install install-module uninstall
# Made afresh every time: they carry PREFIX and the paths under it.
.PHONY: $(BUILD)/taskdb.pc $(BUILD)/taskshell.1
all: $(CORE_LIB) $(MODULE) $(HOST) $(SQLDUMP) $(CTESTS) $(HELPERS)

$(BUILD)/obj/core/%.o: src/core/%.c $(wildcard src/core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PQ_INC) -Isrc/core -c $< -o $@

$(BUILD)/obj/binding/%.o: src/binding/%.c $(wildcard src/binding/*.h src/core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fvisibility=hidden $(LUA_INC) $(PQ_INC) -Isrc/core -c $< -o $@

$(BUILD)/obj/host/%.o: src/host/%.c $(wildcard src/host/*.h src/binding/taskdb.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_INC) -Isrc/binding -DTASKSHELL_VERSION='"$(VERSION)"' -c $< -o $@

VERSION = $(shell sed -n 's/^\#define TDB_VERSION "\(.*\)"/\1/p' src/core/version.h)

$(CORE_LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The loadable module: only luaopen_taskdb is exported; Lua's symbols come
# from the interpreter that loads it.
$(MODULE): $(BINDING_OBJ) $(CORE_LIB)
	$(CC) $(MODULE_LDFLAGS) $(LDFLAGS) -Wl,--exclude-libs,ALL -Wl,-z,nodelete -o $@ $(BINDING_OBJ) $(CORE_LIB) $(PQ_LIB) -lpthread -lm

# -Wl,-E exports Lua's API to C modules the host loads (cjson, lfs, ...).
$(HOST): $(HOST_OBJ) $(BINDING_OBJ) $(CORE_LIB)
	$(CC) $(LDFLAGS) -Wl,-E -o $@ $(HOST_OBJ) $(BINDING_OBJ) $(CORE_LIB) $(LUA_LIB) $(PQ_LIB) -lreadline -lpthread -lm -ldl

$(SQLDUMP): tools/taskdb-sql.c $(CORE_LIB)
	$(CC) $(CFLAGS) $(PQ_INC) -Isrc/core $< -o $@ $(LDFLAGS) $(CORE_LIB) $(PQ_LIB) -lpthread -lm

$(BUILD)/ctest/%: spec/c/%.c spec/c/ctest.h $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PQ_INC) -Isrc/core -Ispec/c $< -o $@ $(LDFLAGS) $(CORE_LIB) $(PQ_LIB) -lpthread -lm

# The host's allocator is plain C: its test needs neither Lua nor libpq.
$(BUILD)/ctest/test_alloc: spec/c/test_alloc.c spec/c/ctest.h src/host/alloc.c src/host/alloc.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc/host -Ispec/c spec/c/test_alloc.c src/host/alloc.c -o $@ $(LDFLAGS)

$(BUILD)/hangd: spec/support/hangd.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS)

# The bench's network link: a delaying, round-trip-counting TCP proxy.
$(BUILD)/delayline: bench/delayline.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS)

deps:
	@sh scripts/deps.sh

db: deps
	@sh scripts/localdb.sh start >&2
	@sh scripts/localdb.sh url

db-stop:
	@sh scripts/localdb.sh stop

# taskdb itself says whether a DATABASE_URL is configured (the environment,
# else ./.env): without one (it says why), the private local cluster is used.
WHICH_URL = local url, err = require("taskdb").database_url(); \
  if not url then io.stderr:write("run: ", err.message, "; using the local cluster\n") end; \
  os.exit(url ~= nil)
run: deps all
	@if ! $(HOST) -e '$(WHICH_URL)'; then \
	  sh scripts/localdb.sh start >&2 || exit 1; \
	  DATABASE_URL=$$(sh scripts/localdb.sh url) || exit 1; export DATABASE_URL; fi; \
	$(HOST) scripts/quickstart.lua

test: deps all
	@sh spec/run.sh

valgrind: deps all
	@TASKDB_VALGRIND=1 sh spec/run.sh

asan: deps
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all
	@TASKDB_BUILD=build-asan ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/spec/support/lsan.supp sh spec/run.sh

bench: deps all
	@TASKDB_BUILD=$(BUILD) sh bench/run.sh

# The core never sees Lua; the host never sees libpq.
check:
	@! grep -rn 'lua\.h\|lauxlib\.h\|lualib\.h' src/core tools || (echo "Lua header in the core" && false)
	@! grep -rn 'libpq-fe\.h' src/host || (echo "libpq header in the host" && false)
	@echo "layers: ok"

# --- install -----------------------------------------------------------------
# lua-cjson's layout and variable names; everything lands under
# $(DESTDIR)$(PREFIX).  An installed taskshell finds its Lua modules at
# bin/../share/lua/5.4, so keep LUA_BIN_DIR and LUA_MODULE_DIR side by side.
PREFIX          ?= /usr/local
LUA_VERSION     = 5.4
LUA_BIN_DIR     ?= $(PREFIX)/bin
LUA_CMODULE_DIR ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUA_MODULE_DIR  ?= $(PREFIX)/share/lua/$(LUA_VERSION)
LIB_DIR         ?= $(PREFIX)/lib
INCLUDE_DIR     ?= $(PREFIX)/include
PKGCONFIG_DIR   ?= $(LIB_DIR)/pkgconfig
MAN_DIR         ?= $(PREFIX)/share/man
INSTALL         ?= install

LUA_MODULES     = $(wildcard lua/taskshell/*.lua)
# The core's headers, but for those only the core itself uses, are
# installed as include/taskdb/taskdb_<name>.h (their includes rewritten to
# match) under one umbrella, taskdb/taskdb.h.  A new header is public
# unless it is named here.
INTERNAL_HEADERS = conn_internal bytes conninfo schema_check trace_internal
PUBLIC_HEADERS  = $(filter-out $(INTERNAL_HEADERS),$(basename $(notdir $(wildcard src/core/*.h))))
STAGED_HEADERS  = $(PUBLIC_HEADERS:%=$(BUILD)/include/taskdb/taskdb_%.h) \
                  $(BUILD)/include/taskdb/taskdb.h
empty           :=
space           := $(empty) $(empty)
HEADER_NAMES    = $(subst $(space),\|,$(PUBLIC_HEADERS))

$(BUILD)/include/taskdb/taskdb_%.h: src/core/%.h Makefile
	@mkdir -p $(dir $@)
	sed 's/\<\($(HEADER_NAMES)\)\.h\>/taskdb_\1.h/g' $< > $@

$(BUILD)/include/taskdb/taskdb.h: Makefile
	@mkdir -p $(dir $@)
	{ printf '%s\n' '/*' \
	    ' * taskdb.h -- the taskdb core: a PostgreSQL task store in C on libpq.' \
	    ' * One include for the whole C API; link with `pkg-config --libs taskdb`.' \
	    ' */' '#ifndef TASKDB_TASKDB_H' '#define TASKDB_TASKDB_H' ''; \
	  for h in $(PUBLIC_HEADERS); do printf '#include "taskdb_%s.h"\n' $$h; done; \
	  printf '\n#endif\n'; } > $@

# prefix is found from the file's own place (${pcfiledir}, known to pkgconf
# and pkg-config alike) when PKGCONFIG_DIR is under PREFIX: the same file
# then works installed and in a DESTDIR staging tree.
PC_UP     = $(subst $(space),/,$(patsubst %,..,$(subst /, ,$(patsubst $(PREFIX)/%,%,$(PKGCONFIG_DIR)))))
PC_PREFIX = $(if $(filter $(PREFIX)/%,$(PKGCONFIG_DIR)),$${pcfiledir}/$(PC_UP),$(PREFIX))

$(BUILD)/taskdb.pc: Makefile src/core/version.h
	@mkdir -p $(dir $@)
	printf '%s\n' 'prefix=$(PC_PREFIX)' \
	  'libdir=$(patsubst $(PREFIX)%,$${prefix}%,$(LIB_DIR))' \
	  'includedir=$(patsubst $(PREFIX)%,$${prefix}%,$(INCLUDE_DIR))' '' \
	  'Name: taskdb' \
	  'Description: user-scoped task records in PostgreSQL, on libpq' \
	  'Version: $(VERSION)' \
	  'Requires: libpq' \
	  'Libs: -L$${libdir} -ltaskdb -lpthread -lm' \
	  'Cflags: -I$${includedir}' > $@

$(BUILD)/taskshell.1: man/taskshell.1 src/core/version.h
	@mkdir -p $(dir $@)
	sed 's/@VERSION@/$(VERSION)/g' $< > $@

module: $(MODULE)

# What luarocks installs: the module and the Lua helpers.
install-module: $(MODULE)
	mkdir -p $(DESTDIR)$(LUA_CMODULE_DIR) $(DESTDIR)$(LUA_MODULE_DIR)/taskshell
	rm -f $(DESTDIR)$(LUA_CMODULE_DIR)/taskdb.so
	$(INSTALL) -m 755 $(MODULE) $(DESTDIR)$(LUA_CMODULE_DIR)/taskdb.so
	$(INSTALL) -m 644 $(LUA_MODULES) $(DESTDIR)$(LUA_MODULE_DIR)/taskshell/

install: install-module $(HOST) $(CORE_LIB) $(STAGED_HEADERS) $(BUILD)/taskdb.pc $(BUILD)/taskshell.1
	mkdir -p $(DESTDIR)$(LUA_BIN_DIR) $(DESTDIR)$(LIB_DIR) $(DESTDIR)$(PKGCONFIG_DIR) \
	  $(DESTDIR)$(INCLUDE_DIR)/taskdb $(DESTDIR)$(MAN_DIR)/man1
	rm -f $(DESTDIR)$(LUA_BIN_DIR)/taskshell
	$(INSTALL) -m 755 $(HOST) $(DESTDIR)$(LUA_BIN_DIR)/taskshell
	$(INSTALL) -m 644 $(CORE_LIB) $(DESTDIR)$(LIB_DIR)/libtaskdb.a
	$(INSTALL) -m 644 $(STAGED_HEADERS) $(DESTDIR)$(INCLUDE_DIR)/taskdb/
	$(INSTALL) -m 644 $(BUILD)/taskdb.pc $(DESTDIR)$(PKGCONFIG_DIR)/taskdb.pc
	$(INSTALL) -m 644 $(BUILD)/taskshell.1 $(DESTDIR)$(MAN_DIR)/man1/taskshell.1

# Removes exactly what install put there, and the directories it made that are now empty.
uninstall:
	rm -f $(DESTDIR)$(LUA_BIN_DIR)/taskshell $(DESTDIR)$(LUA_CMODULE_DIR)/taskdb.so \
	  $(LUA_MODULES:lua/%=$(DESTDIR)$(LUA_MODULE_DIR)/%) \
	  $(DESTDIR)$(LIB_DIR)/libtaskdb.a $(DESTDIR)$(PKGCONFIG_DIR)/taskdb.pc \
	  $(patsubst %,$(DESTDIR)$(INCLUDE_DIR)/taskdb/%,$(notdir $(STAGED_HEADERS))) \
	  $(DESTDIR)$(MAN_DIR)/man1/taskshell.1
	rmdir $(DESTDIR)$(LUA_MODULE_DIR)/taskshell $(DESTDIR)$(INCLUDE_DIR)/taskdb 2>/dev/null || true

clean:
	rm -rf build build-asan
