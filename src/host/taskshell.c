/*
 * taskshell.c — the Lua 5.4 stand-alone interpreter with taskdb built in.
 *
 * The shape is lua.c's: main runs `pmain` in protected mode; options are
 * collected before any Lua code runs; every chunk runs through one message
 * handler.  What differs: taskdb is preloaded and the project's lua/ is on
 * package.path (setup.c), -v/--version names taskshell and taskdb too,
 * -h/--help print the usage to stdout, a table error is shown by its
 * __tostring followed by a traceback, Ctrl-C also cancels the statement
 * taskdb is waiting for on the server, and a run that Ctrl-C ended exits
 * with status 130, as a shell reports a command that SIGINT ended.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "taskdb.h"
#include "host.h"

#define EXIT_INTERRUPTED 130 /* 128 + SIGINT */

static const char *progname = TASKSHELL_PROGNAME;
static lua_State *globalL = NULL;
static volatile sig_atomic_t stop_hook_set; /* laction armed lstop */
static volatile sig_atomic_t got_sigint;    /* Ctrl-C stopped code at least once */

int host_interrupted(void)
{
    return got_sigint;
}

/* The hook a SIGINT installs: raise "interrupted!" at the next Lua step,
 * unless taskdb has just raised an error saying the statement it waited
 * for was interrupted (that error stops the code, and stays catchable). */
static void lstop(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    if (taskdb_interrupt_delivered())
        return;
    luaL_error(L, "interrupted!");
}

static void setsignal(int sig, void (*handler)(int))
{
    struct sigaction sa;
    sa.sa_handler = handler;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* A signal handler cannot touch the Lua state safely: it asks taskdb to
 * cancel the statement it is waiting for, and sets a hook that stops the
 * running code at its next step (lstop).  While taskdb waits, the handler
 * stays: a second Ctrl-C ends the cancel's wait too.  Otherwise, as in
 * lua.c, a second Ctrl-C kills the process. */
static void laction(int sig)
{
    int flag = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
    got_sigint = 1;
    if (!taskdb_interrupt())
        setsignal(sig, SIG_DFL);
    stop_hook_set = 1;
    lua_sethook(globalL, lstop, flag, 1);
}

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: %s [options] [script [args]]\n"
            "Lua 5.4 with the taskdb module preloaded and the project's lua/ on package.path.\n"
            "Available options are:\n"
            "  -e chunk   execute string 'chunk'\n"
            "  -i         enter interactive mode after executing 'script'\n"
            "  -l mod     require library 'mod' into global 'mod'\n"
            "  -l g=mod   require library 'mod' into global 'g'\n"
            "  -v, --version  show version information (taskshell, taskdb, Lua)\n"
            "  -E         ignore environment variables (LUA_INIT, LUA_PATH, LUA_CPATH,\n"
            "             TASKSHELL_LUA_DIR)\n"
            "  -W         turn warnings on\n"
            "  -h, --help show this help\n"
            "  --         stop handling options\n"
            "  -          stop handling options and execute stdin\n"
            "With no script: an interactive prompt on a terminal (history in\n"
            "~/.taskshell_history; `db` connects on first use when DATABASE_URL or\n"
            "./.env is set), otherwise standard input runs as a script.\n"
            "Cookbook: README.md, section \"Cookbook\"; the API is in README.md too.\n",
            progname);
}

static void print_bad_option(const char *badoption)
{
    fprintf(stderr, "%s: ", progname);
    if (badoption[1] == 'e' || badoption[1] == 'l')
        fprintf(stderr, "'%s' needs argument\n", badoption);
    else
        fprintf(stderr, "unrecognized option '%s'\n", badoption);
    print_usage(stderr);
}

static void l_message(const char *pname, const char *msg)
{
    if (pname)
        fprintf(stderr, "%s: ", pname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

int host_report(lua_State *L, int status, const char *pname)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        if (msg == NULL)
            msg = "(error object is not a string)";
        l_message(pname, msg);
        lua_pop(L, 1);
    }
    return status;
}

static int report(lua_State *L, int status)
{
    return host_report(L, status, progname);
}

/* Unlike lua.c, a table error with __tostring (every taskdb error) gets a
 * traceback too: the one-line message alone rarely says where it came from. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int host_docall(lua_State *L, int narg, int nres)
{
    int status;
    int base = lua_gettop(L) - narg; /* function index */
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base); /* handler below function and args */
    globalL = L;
    taskdb_interrupt_clear(); /* a Ctrl-C that nothing waited for is spent */
    stop_hook_set = 0;
    setsignal(SIGINT, laction);
    status = lua_pcall(L, narg, nres, base);
    setsignal(SIGINT, SIG_DFL);
    /* Ctrl-C during the last C call may leave the hook armed: it must not
   * stop the next command. */
    if (stop_hook_set)
        lua_sethook(L, NULL, 0, 0);
    lua_remove(L, base);
    return status;
}

/* Asks the preloaded binding for its own version, so -v reports what is
 * actually linked in; a binding that fails to load is named as such. */
void host_push_version(lua_State *L)
{
    const char *taskdb_version = "unavailable";
    int top = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "taskdb");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1) &&
        lua_getfield(L, -1, "version") == LUA_TSTRING)
        taskdb_version = lua_tostring(L, -1);
    lua_pushfstring(L, "%s %s (taskdb %s) - %s", TASKSHELL_PROGNAME, TASKSHELL_VERSION,
                    taskdb_version, LUA_COPYRIGHT);
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
}

static void print_version(lua_State *L)
{
    host_push_version(L);
    puts(lua_tostring(L, -1));
    fflush(stdout);
    lua_pop(L, 1);
}

/*
 * The `arg` table: argv[script] at index 0, the script's arguments at
 * positive indices, the interpreter and its options at negative ones.
 * With no script, the interpreter's name is at index 0.
 */
static void createargtable(lua_State *L, char **argv, int argc, int script)
{
    int i, narg;
    narg = argc - (script + 1);
    lua_createtable(L, narg, script + 1);
    for (i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status)
{
    if (status == LUA_OK)
        status = host_docall(L, 0, 0);
    return report(L, status);
}

static int dofile(lua_State *L, const char *name)
{
    return dochunk(L, luaL_loadfile(L, name));
}

static int dostring(lua_State *L, const char *s, const char *name)
{
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l mod: global mod = require "mod"; -l g=mod: global g = require "mod".
 * As in lua.c, a suffix after '-' is dropped from the global's name
 * (-l mod-v2 sets `mod`). */
static int dolibrary(lua_State *L, const char *spec)
{
    int status;
    const char *eq = strchr(spec, '=');
    const char *modname = eq ? eq + 1 : spec;
    size_t globlen = eq ? (size_t)(eq - spec) : strcspn(spec, "-");
    lua_pushlstring(L, spec, globlen); /* the global's name, kept below */
    lua_getglobal(L, "require");
    lua_pushstring(L, modname);
    status = host_docall(L, 1, 1);
    if (status == LUA_OK)
        lua_setglobal(L, lua_tostring(L, -2));
    lua_remove(L, status == LUA_OK ? -1 : -2); /* the global's name */
    return report(L, status);
}

/* Pushes arg[1..#arg], the script's `...`. */
static int pushargs(lua_State *L)
{
    int i, n;
    if (lua_getglobal(L, "arg") != LUA_TTABLE)
        luaL_error(L, "'arg' is not a table");
    n = (int)luaL_len(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    for (i = 1; i <= n; i++)
        lua_rawgeti(L, -i, i);
    lua_remove(L, -i);
    return n;
}

static int handle_script(lua_State *L, char **argv)
{
    int status;
    const char *fname = argv[0];
    if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0)
        fname = NULL; /* stdin */
    status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = pushargs(L);
        status = host_docall(L, n, LUA_MULTRET);
    }
    return report(L, status);
}

/* bits of the options that matter before any Lua code runs */
#define has_error 1 /* bad option */
#define has_i 2     /* -i */
#define has_v 4     /* -v */
#define has_e 8     /* -e */
#define has_E 16    /* -E */
#define has_h 32    /* -h, --help */
/* -v, --version: has_v */

/*
 * Walks argv once, as lua.c does: returns the option bits, and in *first
 * the index of the script (0 if none) or of the bad option.
 */
static int collectargs(char **argv, int *first)
{
    int args = 0;
    int i;
    if (argv[0] == NULL) {
        *first = 0;
        return 0;
    }
    for (i = 1; argv[i] != NULL; i++) {
        *first = i;
        if (argv[i][0] != '-')
            return args; /* the script */
        switch (argv[i][1]) {
        case '-':
            if (strcmp(argv[i], "--help") == 0) {
                args |= has_h;
                break;
            }
            if (strcmp(argv[i], "--version") == 0) {
                args |= has_v;
                break;
            }
            if (argv[i][2] != '\0')
                return has_error;
            *first = argv[i + 1] ? i + 1 : 0; /* '--' */
            return args;
        case '\0':
            return args; /* script "name" is '-' */
        case 'h':
            if (argv[i][2] != '\0')
                return has_error;
            args |= has_h;
            break;
        case 'E':
            if (argv[i][2] != '\0')
                return has_error;
            args |= has_E;
            break;
        case 'W':
            if (argv[i][2] != '\0')
                return has_error;
            break;
        case 'i':
            if (argv[i][2] != '\0')
                return has_error;
            args |= has_i;
            break;
        case 'v':
            if (argv[i][2] != '\0')
                return has_error;
            args |= has_v;
            break;
        case 'e':
            args |= has_e;
            /* FALLTHROUGH */
        case 'l': /* both need an argument */
            if (argv[i][2] == '\0') {
                i++;
                if (argv[i] == NULL || argv[i][0] == '-')
                    return has_error;
            }
            break;
        default:
            return has_error;
        }
    }
    *first = 0; /* no script */
    return args;
}

/* Runs -e, -l and -W in command-line order; 0 if some code failed. */
static int runargs(lua_State *L, char **argv, int n)
{
    int i;
    for (i = 1; i < n; i++) {
        int option = argv[i][1];
        if (option == 'W') {
            lua_warning(L, "@on", 0);
        } else if (option == 'e' || option == 'l') {
            int status;
            const char *extra = argv[i] + 2;
            if (*extra == '\0')
                extra = argv[++i];
            status = (option == 'e') ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
            if (status != LUA_OK)
                return 0;
        }
    }
    return 1;
}

static int handle_luainit(lua_State *L)
{
    const char *name = "=LUA_INIT" LUA_VERSUFFIX;
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=LUA_INIT";
        init = getenv(name + 1);
    }
    if (init == NULL)
        return LUA_OK;
    if (init[0] == '@')
        return dofile(L, init + 1);
    return dostring(L, init, name);
}

/* The whole interpreter, in protected mode: returns true on success. */
static int pmain(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = (char **)lua_touserdata(L, 2);
    int script;
    int args = collectargs(argv, &script);
    int optlim = (script > 0) ? script : argc; /* first argv not an option */
    luaL_checkversion(L);
    if (args == has_error) {
        print_bad_option(argv[script]);
        return 0;
    }
    if (args & has_h) {
        print_usage(stdout);
        lua_pushboolean(L, 1);
        return 1;
    }
    if (args & has_E) { /* tells the package library to ignore LUA_PATH */
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    host_setup(L, args & has_E);
    if (args & has_v)
        print_version(L);
    createargtable(L, argv, argc, script);
    lua_gc(L, LUA_GCGEN, 0, 0);
    if (!(args & has_E) && handle_luainit(L) != LUA_OK)
        return 0;
    if (!runargs(L, argv, optlim))
        return 0;
    if (script > 0 && handle_script(L, argv + script) != LUA_OK)
        return 0;
    if (args & has_i) {
        host_repl(L);
    } else if (script < 1 && !(args & (has_e | has_v))) {
        if (isatty(0))
            host_repl(L);
        else if (dofile(L, NULL) != LUA_OK)
            return 0; /* stdin as a script */
    }
    lua_pushboolean(L, 1);
    return 1;
}

int main(int argc, char **argv)
{
    int status, result;
    host_alloc *alloc = host_alloc_new();
    lua_State *L = alloc ? host_newstate(alloc) : NULL;
    if (argv[0] && argv[0][0]) {
        const char *slash = strrchr(argv[0], '/');
        progname = slash ? slash + 1 : argv[0];
    }
    if (L == NULL) {
        l_message(progname, "cannot create state: not enough memory");
        host_alloc_delete(alloc);
        return EXIT_FAILURE;
    }
    lua_pushcfunction(L, pmain);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    status = lua_pcall(L, 2, 1, 0);
    result = lua_toboolean(L, -1);
    report(L, status);
    lua_close(L);
    host_alloc_delete(alloc);
    if (result && status == LUA_OK)
        return EXIT_SUCCESS;
    return got_sigint ? EXIT_INTERRUPTED : EXIT_FAILURE;
}
