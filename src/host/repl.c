/*
 * repl.c — taskshell's read-eval-print loop.
 *
 * lua.c's loop (a line is tried as `return <line>;` first, then as a
 * statement; an incomplete chunk asks for more with `>>`; `= expr` prints)
 * with what a session against a database needs: GNU readline, where
 * Ctrl-C drops the line being typed instead of ending the process;
 * history kept in ~/.taskshell_history and appended line by line, so a
 * killed session loses nothing; results printed by lua/taskshell/repl.lua
 * (tasks as tables), which also sets up `taskdb` and the lazily
 * connecting `db`, and completes names on Tab (globals, fields, methods
 * after ':').
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/readline.h>
#include <readline/history.h>

#include "lua.h"
#include "lauxlib.h"

#include "host.h"

#define PROMPT1 "> "
#define PROMPT2 ">> "
#define HISTORY_FILE ".taskshell_history"
#define HISTORY_MAX 1000
#define EOFMARK "<eof>"
#define SHOW_KEY "taskshell.repl.show"         /* registry: the result printer */
#define COMPLETE_KEY "taskshell.repl.complete" /* registry: the Tab completer */
/* Tab splits words here; '.' and ':' stay inside, so "db:get_" is one word. */
#define WORD_BREAKS " \t\n\"\\'`@$><=;|&{}()[],+-*/%^~#"

/* what reading a line can end in, besides a line */
#define READ_EOF (-1)
#define READ_INTERRUPTED (-2)

static int on_terminal;             /* stdin is a terminal: use readline */
static char history_path[PATH_MAX]; /* empty: history is not saved */
static int chunk_from_equals;       /* the chunk was typed as "= expr" */

/* ---- reading a line ---------------------------------------------------- */

static sigjmp_buf prompt_jump;
static volatile sig_atomic_t at_prompt;

/* Readline (rl_catch_signals) restores the terminal, echoes ^C and passes
 * SIGINT on from ordinary code, not from a signal handler; jumping out of
 * readline() then is what psql does to drop the line being typed. */
static void on_prompt_sigint(int sig)
{
    (void)sig;
    if (at_prompt) {
        at_prompt = 0;
        siglongjmp(prompt_jump, 1);
    }
}

static int read_terminal_line(const char *prompt, char **line)
{
    struct sigaction sa, old;
    sa.sa_handler = on_prompt_sigint;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    if (sigsetjmp(prompt_jump, 1) != 0) { /* Ctrl-C at the prompt */
        sigaction(SIGINT, &old, NULL);
        rl_free_line_state();
        fputs("\n", stdout);
        *line = NULL;
        return READ_INTERRUPTED;
    }
    at_prompt = 1;
    *line = readline(prompt);
    at_prompt = 0;
    sigaction(SIGINT, &old, NULL);
    return *line != NULL ? 0 : READ_EOF;
}

/* Not a terminal (`taskshell -i < file`): a plain prompt and getline. */
static int read_plain_line(const char *prompt, char **line)
{
    size_t cap = 0;
    ssize_t n;
    fputs(prompt, stdout);
    fflush(stdout);
    *line = NULL;
    n = getline(line, &cap, stdin);
    if (n < 0) {
        free(*line);
        *line = NULL;
        return READ_EOF;
    }
    if (n > 0 && (*line)[n - 1] == '\n')
        (*line)[n - 1] = '\0';
    return 0;
}

/* ---- completion -------------------------------------------------------- */

static lua_State *completion_L; /* the state the prompt belongs to */
static char **matches;          /* the candidates of the last Tab, malloc'd */
static size_t match_count, match_next;

static void matches_free(void)
{
    size_t i;
    for (i = 0; i < match_count; i++)
        free(matches[i]);
    free(matches);
    matches = NULL;
    match_count = match_next = 0;
}

/* Protected: calls repl.complete(word) and copies its strings into C, so
 * readline's later calls never touch Lua. */
static int collect_matches(lua_State *L)
{
    const char *word = lua_touserdata(L, 1);
    size_t i, n;
    lua_settop(L, 0);
    if (lua_getfield(L, LUA_REGISTRYINDEX, COMPLETE_KEY) != LUA_TFUNCTION)
        return 0;
    lua_pushstring(L, word);
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1))
        return 0;
    n = (size_t)lua_rawlen(L, -1);
    matches = calloc(n ? n : 1, sizeof *matches);
    if (matches == NULL)
        return 0;
    for (i = 0; i < n; i++) {
        const char *m;
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        m = lua_tostring(L, -1);
        if (m == NULL || (matches[match_count] = strdup(m)) == NULL)
            break;
        match_count++;
        lua_pop(L, 1);
    }
    return 0;
}

/* readline's generator: state 0 starts a new word. */
static char *next_match(const char *word, int state)
{
    if (state == 0) {
        lua_State *L = completion_L;
        int top = lua_gettop(L);
        matches_free();
        lua_pushcfunction(L, collect_matches);
        lua_pushlightuserdata(L, (void *)word);
        lua_pcall(L, 1, 0, 0); /* a failure just offers nothing */
        lua_settop(L, top);
    }
    if (match_next >= match_count)
        return NULL;
    return strdup(matches[match_next++]);
}

static char **complete_word(const char *word, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file names */
    rl_completion_append_character = '\0';
    return rl_completion_matches(word, next_match);
}

static void completion_open(lua_State *L)
{
    completion_L = L;
    rl_attempted_completion_function = complete_word;
    rl_completer_word_break_characters = WORD_BREAKS;
}

/* ---- history ----------------------------------------------------------- */

static void history_open(void)
{
    const char *home = getenv("HOME");
    int n, err;
    using_history();
    stifle_history(HISTORY_MAX);
    if (!on_terminal || home == NULL || home[0] == '\0')
        return;
    n = snprintf(history_path, sizeof history_path, "%s/%s", home, HISTORY_FILE);
    if (n < 0 || (size_t)n >= sizeof history_path) {
        history_path[0] = '\0';
        return;
    }
    /* Timestamp lines separate entries, so a chunk that spans several lines
   * comes back as one entry. */
    history_comment_char = '#';
    history_write_timestamps = 1;
    history_multiline_entries = 1;
    /* The first time, write_history creates the file (mode 0600: lines may
   * hold URLs) so that append_history can add to it.  A file that exists
   * but cannot be read is left alone. */
    err = read_history(history_path);
    if (err == ENOENT)
        err = write_history(history_path);
    if (err != 0)
        history_path[0] = '\0';
}

/* Keeps a chunk as typed: "= x" is compiled as "return x" but saved as is. */
static void history_save_line(const char *line)
{
    HIST_ENTRY *last;
    char *typed = NULL;
    if (chunk_from_equals && strncmp(line, "return ", 7) == 0) {
        if (asprintf(&typed, "=%s", line + 7) < 0)
            typed = NULL;
        else
            line = typed;
    }
    if (line[0] == '\0') {
        free(typed);
        return;
    }
    last = history_get(history_base + history_length - 1);
    if (last == NULL || strcmp(last->line, line) != 0) {
        add_history(line);
        if (history_path[0] != '\0')
            append_history(1, history_path);
    }
    free(typed);
}

static void history_close(void)
{
    if (history_path[0] != '\0')
        history_truncate_file(history_path, HISTORY_MAX);
}

/* ---- the loop (lua.c's pushline / addreturn / multiline / loadline) ---- */

/* Prompts with _PROMPT / _PROMPT2 if set, reads a line, pushes it. */
static int pushline(lua_State *L, int firstline)
{
    char *b;
    int status;
    const char *prompt;
    lua_getglobal(L, firstline ? "_PROMPT" : "_PROMPT2");
    prompt = lua_tostring(L, -1);
    if (prompt == NULL)
        prompt = firstline ? PROMPT1 : PROMPT2;
    status = on_terminal ? read_terminal_line(prompt, &b) : read_plain_line(prompt, &b);
    lua_pop(L, 1); /* prompt */
    if (status != 0)
        return status;
    if (firstline)
        chunk_from_equals = (b[0] == '=');
    if (firstline && b[0] == '=')
        lua_pushfstring(L, "return %s", b + 1);
    else
        lua_pushstring(L, b);
    free(b);
    return 0;
}

/* Is the syntax error on the top of the stack "more input needed"? */
static int incomplete(lua_State *L, int status)
{
    if (status == LUA_ERRSYNTAX) {
        size_t lmsg, lmark = sizeof(EOFMARK) - 1;
        const char *msg = lua_tolstring(L, -1, &lmsg);
        if (lmsg >= lmark && strcmp(msg + lmsg - lmark, EOFMARK) == 0) {
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

/* Tries the line as `return <line>;`: a bare expression prints its value. */
static int addreturn(lua_State *L)
{
    const char *line = lua_tostring(L, -1);
    const char *retline = lua_pushfstring(L, "return %s;", line);
    int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
    if (status == LUA_OK) {
        lua_remove(L, -2); /* modified line */
        history_save_line(line);
    } else {
        lua_pop(L, 2); /* error message and modified line */
    }
    return status;
}

/* Reads continuation lines until the chunk at index 1 compiles or fails. */
static int multiline(lua_State *L)
{
    for (;;) {
        size_t len;
        const char *line = lua_tolstring(L, 1, &len);
        int status = luaL_loadbuffer(L, line, len, "=stdin");
        int more;
        if (!incomplete(L, status)) {
            history_save_line(line);
            return status;
        }
        more = pushline(L, 0);
        if (more == READ_INTERRUPTED)
            return more;
        if (more == READ_EOF) {
            history_save_line(line);
            return luaL_loadbuffer(L, line, len, "=stdin"); /* its error again */
        }
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
}

/* Leaves one compiled chunk or one error message on an otherwise empty
 * stack; or returns READ_EOF / READ_INTERRUPTED with nothing on it. */
static int loadline(lua_State *L)
{
    int status;
    lua_settop(L, 0);
    status = pushline(L, 1);
    if (status != 0)
        return status;
    if ((status = addreturn(L)) != LUA_OK)
        status = multiline(L);
    if (status == READ_INTERRUPTED) {
        lua_settop(L, 0);
        return status;
    }
    lua_remove(L, 1); /* the source line */
    return status;
}

/* Prints every value on the stack through repl.show (or print). */
static void print_results(lua_State *L)
{
    int n = lua_gettop(L);
    if (n == 0)
        return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    if (lua_getfield(L, LUA_REGISTRYINDEX, SHOW_KEY) != LUA_TFUNCTION) {
        lua_pop(L, 1);
        lua_getglobal(L, "print");
    }
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
        fprintf(stderr, "error printing the result (%s)\n", luaL_tolstring(L, -1, NULL));
    lua_settop(L, 0);
}

/* Loads lua/taskshell/repl.lua, which sets the `taskdb` and `db` globals
 * and writes the banner; without it the loop still works with `print`. */
static void start_session(lua_State *L)
{
    int version = lua_gettop(L) + 1;
    host_push_version(L); /* version */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "taskshell.repl");
    if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_istable(L, -1)) {
        fprintf(stderr, "taskshell: REPL helpers unavailable (%s)\n", luaL_tolstring(L, -1, NULL));
        puts(lua_tostring(L, version));
    } else { /* version repl */
        lua_getfield(L, -1, "show");
        lua_setfield(L, LUA_REGISTRYINDEX, SHOW_KEY);
        lua_getfield(L, -1, "complete");
        lua_setfield(L, LUA_REGISTRYINDEX, COMPLETE_KEY);
        lua_getfield(L, -1, "start");
        lua_pushvalue(L, version);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_isstring(L, -1)) {
            fprintf(stderr, "taskshell: REPL set-up failed (%s)\n", luaL_tolstring(L, -1, NULL));
            puts(lua_tostring(L, version));
        } else {
            puts(lua_tostring(L, -1));
        }
    }
    fflush(stdout);
    lua_settop(L, version - 1);
}

void host_repl(lua_State *L)
{
    int status;
    on_terminal = isatty(STDIN_FILENO);
    rl_readline_name = TASKSHELL_PROGNAME; /* for $if in ~/.inputrc */
    completion_open(L);
    history_open();
    start_session(L);
    while ((status = loadline(L)) != READ_EOF) {
        if (status == READ_INTERRUPTED)
            continue;
        if (status == LUA_OK)
            status = host_docall(L, 0, LUA_MULTRET);
        if (status == LUA_OK)
            print_results(L);
        else
            host_report(L, status, NULL);
    }
    lua_settop(L, 0);
    fputs("\n", stdout);
    fflush(stdout);
    history_close();
    matches_free();
}
