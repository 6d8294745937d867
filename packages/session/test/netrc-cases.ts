// .netrc files and what aiohttp makes of each for host 127.0.0.1: [what, file, [user, password] or
// null for no credentials]. aiohttp reads the file with Python's netrc module and takes the login,
// or the account when there is no login; a file Python refuses gives no credentials at all.
// interop-netrc.test.ts checks every answer against Debian's Python.
export const NETRC_CASES: readonly [string, string, readonly [string, string] | null][] = [
  ["an entry for the host", "machine 127.0.0.1 login ada password pw1\n", ["ada", "pw1"]],
  [
    "tokens split over lines, other machines around",
    "machine other.test login o password p\nmachine 127.0.0.1\n  login ada\n  password pw2\nmachine x.test login x password y\n",
    ["ada", "pw2"],
  ],
  [
    "a commented-out entry skipped",
    "machine 127.0.0.1 login ada password pw3\n# machine 127.0.0.1 login commented password no\n  # machine 127.0.0.1 login indented password no\n",
    ["ada", "pw3"],
  ],
  ["a login alone (empty password)", "machine 127.0.0.1 login solo\n", ["solo", ""]],
  ["default with a password alone", "default password dpw\n", ["", "dpw"]],
  ["default with a login alone", "default login dee\n", ["dee", ""]],
  [
    "default, when no machine matches",
    "machine other.test login o password p\ndefault login dee password pw4\n",
    ["dee", "pw4"],
  ],
  [
    "the machine over default, wherever default stands",
    "default login dee password no\nmachine 127.0.0.1 login ada password pw5\n",
    ["ada", "pw5"],
  ],
  [
    "a macro without its closing blank line: the file is refused",
    "machine 127.0.0.1 login ada password pw6\nmacdef init\ncd /\nmachine 127.0.0.1 login evil password no\n",
    null,
  ],
  [
    "entries after a macro's blank line",
    "macdef init\ncd /pub\nbinary\n\nmachine 127.0.0.1 login ada password pw10\n",
    ["ada", "pw10"],
  ],
  [
    "login before any machine: the file is refused",
    "login stray password no\nmachine 127.0.0.1 login ada password pw7\n",
    null,
  ],
  ["a password alone (empty login)", "machine 127.0.0.1 password pw8\n", ["", "pw8"]],
  ["a login with its value missing at the end", "machine 127.0.0.1 password pw9 login\n", ["", "pw9"]],
  ["no entry for the host", "machine other.test login o password p\n", null],
  ["a machine with no name", "machine", null],
  ["a machine named by an empty quoted token", 'machine "" login x password y\n', null],
  [
    "a quoted password with spaces and an escaped quote",
    'machine 127.0.0.1 login "ada l" password "p w \\" x"\n',
    ["ada l", 'p w " x'],
  ],
  [
    "backslash escapes outside quotes",
    "machine 127.0.0.1 login a\\ b password p\\\\q\\#\n",
    ["a b", "p\\q#"],
  ],
  ["user for login", "machine 127.0.0.1 user ada password pw11\n", ["ada", "pw11"]],
  ["the account when there is no login", "machine 127.0.0.1 account acct password pw12\n", ["acct", "pw12"]],
  ["the login over the account", "machine 127.0.0.1 account acct login ada password pw13\n", ["ada", "pw13"]],
  [
    "a comment after an entry, on its line",
    "machine 127.0.0.1 login ada password pw14 # login evil\n",
    ["ada", "pw14"],
  ],
  ["a # inside a token is part of it", "machine 127.0.0.1 login ada password pa#ss\n", ["ada", "pa#ss"]],
  [
    "a #word at the top is skipped alone: what follows it is refused",
    "#machine x.test\nmachine 127.0.0.1 login ada password pw15\n",
    null,
  ],
  [
    "a #word inside an entry comments out the rest of the line",
    "machine 127.0.0.1 login ada #note password evil\n password pw16\n",
    ["ada", "pw16"],
  ],
  ["an unknown keyword: the file is refused", "machine 127.0.0.1 login ada port 80 password pw17\n", null],
  ["a machine named default is the default", "machine default login dm password pw18\n", ["dm", "pw18"]],
  [
    "CRLF line ends",
    "machine other.test login o password p\r\nmacdef m\r\nx\r\n\r\nmachine 127.0.0.1\r\n login ada\r\n password pw19\r\n",
    ["ada", "pw19"],
  ],
  [
    "a later entry for the same machine wins",
    "machine 127.0.0.1 login old password no\nmachine 127.0.0.1 login ada password pw20\n",
    ["ada", "pw20"],
  ],
  [
    "a comment line between an entry's tokens",
    "machine 127.0.0.1\n  login ada\n  # note\n  password pw21\n",
    ["ada", "pw21"],
  ],
  [
    "a comment line after a trailing space: the file is refused",
    "machine 127.0.0.1 login ada \n# note here\npassword pw22\n",
    null,
  ],
  ["an empty quoted password", 'machine 127.0.0.1 login ada password ""\n', ["ada", ""]],
  ["an unterminated quote runs to the end", 'machine 127.0.0.1 login ada password "p w', ["ada", "p w"]],
  [
    "tabs and several blank lines between tokens",
    "\n\n\tmachine\t127.0.0.1\n\n\tlogin\tada\t\tpassword\tpw23\n\n",
    ["ada", "pw23"],
  ],
  [
    "a comment line before the first machine",
    "# a comment\nmachine 127.0.0.1 login ada password pw24\n",
    ["ada", "pw24"],
  ],
  [
    "a #word before the first machine is skipped alone",
    "#x\nmachine 127.0.0.1 login ada password pw25\n",
    ["ada", "pw25"],
  ],
  [
    "a commented-out entry before the first machine",
    "# machine 127.0.0.1 login evil password no\nmachine other.test login o password p\n",
    null,
  ],
  [
    // Python's quirk: a `#` read after a line end (here the file's first, empty line) is a word
    // alone, so the rest of its line is read as tokens.
    "a lone # after a blank first line comments out only itself",
    "\n# machine 127.0.0.1 login quirk password q\n",
    ["quirk", "q"],
  ],
  [
    "a bad top-level token: the file is refused",
    "bogus x\n\nmachine 127.0.0.1 login ada password pw\n",
    null,
  ],
  [
    "an empty machine name: the file is refused",
    'machine "" login a password b\ndefault login dee password d\n',
    null,
  ],
  [
    "lone carriage returns end lines (a macro ends at its blank line)",
    "macdef init\rcd /\r\rmachine 127.0.0.1 login ada password pw26\r",
    ["ada", "pw26"],
  ],
  [
    "a comment at the end without a newline",
    "machine 127.0.0.1 login ada password pw27 # last",
    ["ada", "pw27"],
  ],
];
