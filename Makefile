# taskshell — build, run, test, bench.  GNU make.
#
#   make run     install what is missing, build, run scripts/quickstart.lua
#   make test    install what is missing, build, run every C test and spec
#   make bench   the standard workload beside a same-run pgbench baseline
#   make asan    build with AddressSanitizer + UBSan and run every test
#   make db      start the private local cluster and print its URL

CC      ?= cc
BUILD   ?= build
LUA_INC ?= $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIB ?= $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)
PQ_INC  ?= -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
PQ_LIB  ?= -lpq

# Lua's own warning set, as errors.
WARN    = -Wall -Wextra -Wshadow -Wsign-compare -Wundef -Wwrite-strings \
          -Wredundant-decls -Wdisabled-optimization -Wdouble-promotion \
          -Wmissing-declarations -Wmissing-prototypes -Wstrict-prototypes -Werror \
          -Wno-format-truncation
OPT     ?= -O2 -g
CFLAGS  += -std=gnu11 $(OPT) $(WARN) -fPIC -D_GNU_SOURCE $(SANITIZE)
LDFLAGS += $(SANITIZE)

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

.PHONY: all run test bench asan db db-stop deps check clean valgrind
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
	$(CC) -shared $(LDFLAGS) -Wl,--exclude-libs,ALL -Wl,-z,nodelete -o $@ $(BINDING_OBJ) $(CORE_LIB) $(PQ_LIB) -lpthread -lm

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

run: deps all
	@url="$$DATABASE_URL"; \
	if [ -z "$$url" ] && ! grep -qs '^[[:space:]]*\(export[[:space:]]\+\)\?DATABASE_URL=' .env; then \
	  sh scripts/localdb.sh start >&2 || exit 1; url=$$(sh scripts/localdb.sh url); fi; \
	if [ -n "$$url" ]; then export DATABASE_URL="$$url"; fi; \
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

clean:
	rm -rf build build-asan
