package io.nthlb.rules;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Parses the text of a rules file, either {@code iptables -t nat ...} command lines or an
 * {@code iptables-save} file, into a normalised {@link Ruleset}, with every error in iptables' words.
 *
 * <p>A line with an error is left out of the table and the rest of the file is still read, so that one
 * run reports every error of a file; the table built from the good lines is returned either way.
 */
public final class RulesParser {
    private static final String DROP_IN_NAT =
            "The \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.";

    /**
     * Common service names and the protocols /etc/services (Debian's netbase) gives them, so that rules
     * need no /etc/services at run time; iptables looks names up per protocol ({@code ssh} is tcp only).
     */
    static final Map<String, Integer> TCP_SERVICES = Map.ofEntries(
            Map.entry("ftp-data", 20), Map.entry("ftp", 21), Map.entry("ssh", 22), Map.entry("telnet", 23),
            Map.entry("smtp", 25), Map.entry("domain", 53), Map.entry("http", 80), Map.entry("www", 80),
            Map.entry("pop3", 110), Map.entry("sunrpc", 111), Map.entry("imap", 143), Map.entry("imap2", 143),
            Map.entry("snmp", 161), Map.entry("ldap", 389), Map.entry("https", 443), Map.entry("submission", 587),
            Map.entry("ldaps", 636), Map.entry("imaps", 993), Map.entry("pop3s", 995), Map.entry("mysql", 3306),
            Map.entry("postgresql", 5432), Map.entry("redis", 6379), Map.entry("http-alt", 8080));
    static final Map<String, Integer> UDP_SERVICES = Map.ofEntries(
            Map.entry("domain", 53), Map.entry("tftp", 69), Map.entry("sunrpc", 111), Map.entry("ntp", 123),
            Map.entry("snmp", 161), Map.entry("ldap", 389), Map.entry("https", 443), Map.entry("ldaps", 636));

    private final String file;
    /** Chains as they stand after each line: insertion order does not matter, printing sorts. */
    private final Map<String, List<Rule>> chains = new HashMap<>();
    private final Map<String, String> policies = new HashMap<>();
    private final List<RuleError> errors = new ArrayList<>();
    private final List<RuleError> warnings = new ArrayList<>();
    private int skippedOtherTables;
    private Origin firstSkipped;
    private JumpGraph jumps = new JumpGraph();
    /**
     * Whether a rule of this iptables-restore table was refused for its jumps: the kernel then refuses every
     * later rule of the same table with the same words, as it checks the whole batch the failed rule is in.
     */
    private boolean jumpsRefused;

    private RulesParser(String file) {
        this.file = file;
        resetTable();
    }

    /** The table iptables starts from: the four built-in chains, empty, with policy ACCEPT. */
    public static Ruleset emptyTable() {
        List<Chain> list = new ArrayList<>();
        for (String name : Chain.BUILT_IN) {
            list.add(new Chain(name, "ACCEPT", List.of()));
        }
        return new Ruleset(list);
    }

    /** Parses a whole file's text; {@code file} names it in errors. Never throws for any input. */
    public static LoadResult parse(String file, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        try {
            return parse(file, () -> new ByteArrayInputStream(bytes));
        } catch (IOException e) {
            throw new UncheckedIOException("reading bytes in memory", e);
        }
    }

    /** Where the bytes of a rules file come from: opened once to see its format, then once to read it. */
    interface Source {
        InputStream open() throws IOException;
    }

    /**
     * Parses the bytes {@code source} gives, in time linear in their length and memory bounded by the
     * longest line nthlb takes plus the table itself; {@code file} names them in errors.
     *
     * @throws IOException when the source cannot be read
     */
    static LoadResult parse(String file, Source source) throws IOException {
        RulesParser parser = new RulesParser(file);
        boolean saveFormat;
        try (InputStream in = source.open()) {
            saveFormat = isSaveFormat(new SourceLines(in, RESTORE_LINE_LIMIT, ""));
        }
        try (InputStream in = source.open()) {
            if (saveFormat) {
                parser.parseSaveFile(new SourceLines(in, RESTORE_LINE_LIMIT, RESTORE_LINE_TOO_LONG));
            } else {
                parser.parseCommandFile(new SourceLines(in, COMMAND_LIMIT, COMMAND_TOO_LONG));
            }
        }
        return parser.result();
    }

    private void resetTable() {
        chains.clear();
        policies.clear();
        jumps = new JumpGraph();
        jumpsRefused = false;
        for (String name : Chain.BUILT_IN) {
            chains.put(name, new ArrayList<>());
            policies.put(name, "ACCEPT");
        }
    }

    private LoadResult result() {
        if (skippedOtherTables > 0) {
            warnings.add(new RuleError(firstSkipped, "warning: skipped " + skippedOtherTables
                    + " command(s) for tables other than nat (nthlb only runs the nat table)"));
        }
        Ruleset table = snapshot();
        // One warning, at the first such rule in print order, is enough to explain every -i and -o.
        table.chains().stream().flatMap(c -> c.rules().stream())
                .filter(rule -> rule.in() != null || rule.out() != null).findFirst()
                .ifPresent(rule -> warnings.add(new RuleError(rule.origin(), "warning: -i/-o are kept and printed,"
                        + " but nthlb cannot see interfaces: they are treated as matching at run time")));
        return new LoadResult(table, errors, warnings);
    }

    private Ruleset snapshot() {
        List<Chain> list = new ArrayList<>();
        for (String name : Chain.BUILT_IN) {
            list.add(new Chain(name, policies.get(name), chains.get(name)));
        }
        TreeMap<String, List<Rule>> user = new TreeMap<>();
        for (Map.Entry<String, List<Rule>> e : chains.entrySet()) {
            if (!policies.containsKey(e.getKey())) {
                user.put(e.getKey(), e.getValue());
            }
        }
        for (Map.Entry<String, List<Rule>> e : user.entrySet()) {
            list.add(new Chain(e.getKey(), null, e.getValue()));
        }
        return new Ruleset(list);
    }

    // ---------------------------------------------------------------- file formats

    /**
     * The longest command nthlb takes: 2 MiB, the kernel's default limit on a program's arguments
     * ({@code ARG_MAX}), past which bash could not run the iptables command either.
     */
    static final int COMMAND_LIMIT = 2 * 1024 * 1024;
    private static final String COMMAND_TOO_LONG = "nthlb: command longer than " + COMMAND_LIMIT
            + " bytes: bash could not run it either (Argument list too long)";
    /** iptables-restore 1.8.9 reads a line into a 10240-byte buffer and cuts a longer one. */
    static final int RESTORE_LINE_LIMIT = 10239;
    private static final String RESTORE_LINE_TOO_LONG = "nthlb: line longer than " + RESTORE_LINE_LIMIT
            + " bytes: iptables-restore would cut it";
    /** iptables-restore 1.8.9 takes at most 251 words on a rule line, each under 1024 bytes. */
    private static final int RESTORE_MAX_WORDS = 251;
    private static final int RESTORE_MAX_WORD = 1023;

    /** Whether the first line that says anything starts a table or declares a chain. */
    private static boolean isSaveFormat(SourceLines lines) throws IOException {
        for (SourceLines.Line raw = lines.next(); raw != null; raw = lines.next()) {
            String line = raw.text() == null ? "" : raw.text().strip();
            if (!line.isEmpty() && !line.startsWith("#")) {
                return line.startsWith("*") || line.startsWith(":");
            }
        }
        return false;
    }

    private void parseCommandFile(SourceLines lines) throws IOException {
        SourceLines.Line raw;
        while ((raw = lines.next()) != null) {
            Origin origin = new Origin(file, raw.number());
            ShellWords split = new ShellWords(COMMAND_LIMIT);
            List<String> words;
            try {
                // A backslash at the end of a line continues the command, as in a shell script.
                while (raw.problem() == null && split.feed(raw.text())) {
                    SourceLines.Line next = lines.next();
                    if (next == null) {
                        break;
                    }
                    raw = next;
                }
                if (raw.problem() != null) {
                    errors.add(new RuleError(new Origin(file, raw.number()), raw.problem()));
                    continue;
                }
                words = split.finish();
            } catch (ShellWords.QuotingException e) {
                errors.add(new RuleError(origin, e.getMessage()));
                continue;
            }
            if (split.tooLong()) {
                errors.add(new RuleError(origin, COMMAND_TOO_LONG));
                continue;
            }
            if (words.isEmpty()) {
                continue;
            }
            int start = 0;
            if (words.get(0).equals("sudo")) {
                start = 1;
            }
            if (start >= words.size() || !isIptablesProgram(words.get(start))) {
                errors.add(new RuleError(origin, "not an iptables command: `" + words.get(0)
                        + "' (expected iptables, iptables-legacy or iptables-nft)"));
                continue;
            }
            runCommand(origin, words.subList(start + 1, words.size()), false);
        }
    }

    private static boolean isIptablesProgram(String word) {
        String base = word.substring(word.lastIndexOf('/') + 1);
        return base.equals("iptables") || base.equals("iptables-legacy") || base.equals("iptables-nft");
    }

    private void parseSaveFile(SourceLines lines) throws IOException {
        String table = null;
        Origin tableOrigin = null;
        int count = 0;
        SourceLines.Line raw;
        while ((raw = lines.next()) != null) {
            count = raw.number();
            Origin origin = new Origin(file, raw.number());
            if (raw.problem() != null) {
                errors.add(new RuleError(origin, raw.problem()));
                continue;
            }
            String line = raw.text().strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("*")) {
                if (table != null) {
                    errors.add(new RuleError(origin, "table `" + table + "' was never committed"));
                }
                table = line.substring(1).strip();
                tableOrigin = origin;
                if (table.equals("nat")) {
                    resetTable();
                } else {
                    warnings.add(new RuleError(origin, "warning: skipping table `" + table
                            + "' (nthlb only runs the nat table)"));
                }
                continue;
            }
            if (table == null) {
                errors.add(new RuleError(origin, "no table specified: expected a line `*nat' before this one"));
                continue;
            }
            if (line.equals("COMMIT")) {
                table = null;
                continue;
            }
            if (!table.equals("nat")) {
                continue;
            }
            if (line.startsWith(":")) {
                declareChain(origin, line);
                continue;
            }
            List<String> words;
            try {
                words = ShellWords.split(line);
            } catch (ShellWords.QuotingException e) {
                errors.add(new RuleError(origin, e.getMessage()));
                continue;
            }
            if (!words.isEmpty() && words.get(0).startsWith("[")) {
                // iptables-save -c puts the rule's counters first; a loaded rule starts from zero anyway.
                if (!words.get(0).matches("\\[\\d+:\\d+\\]")) {
                    errors.add(new RuleError(origin, "Bad parameter `" + words.get(0) + "'"));
                    continue;
                }
                words = words.subList(1, words.size());
            }
            if (words.size() > RESTORE_MAX_WORDS) {
                errors.add(new RuleError(origin, "Parser cannot handle more arguments"));
                continue;
            }
            if (words.stream().anyMatch(w -> w.getBytes(StandardCharsets.UTF_8).length > RESTORE_MAX_WORD)) {
                errors.add(new RuleError(origin, "Parameter too long!"));
                continue;
            }
            if (!words.isEmpty()) {
                runCommand(origin, words, true);
            }
        }
        if (table != null) {
            errors.add(new RuleError(tableOrigin, "COMMIT expected at line " + count));
        }
    }

    /**
     * A {@code :CHAIN POLICY [packets:bytes]} line, read as iptables-restore 1.8.9 reads it: whitespace-separated
     * words, no quoting (a chain may be called {@code "}); a chain name and a policy are required.
     */
    private void declareChain(Origin origin, String line) {
        String rest = line.substring(1).strip();
        String[] parts = rest.isEmpty() ? new String[0] : rest.split("\\s+");
        if (parts.length == 0) {
            errors.add(new RuleError(origin, "chain name invalid"));
            return;
        }
        String name = parts[0];
        if (parts.length == 1) {
            errors.add(new RuleError(origin, "policy invalid"));
            return;
        }
        String policy = parts[1];
        // The counters after the policy are not checked: iptables-restore 1.8.9 (nf_tables) takes
        // ":PREROUTING ACCEPT", ":PREROUTING ACCEPT [x]" and ":FOO - [a:b]" alike.
        if (Chain.BUILT_IN.contains(name)) {
            if (policy.equals("DROP")) {
                errors.add(new RuleError(origin, DROP_IN_NAT));
            } else if (!policy.equals("ACCEPT")) {
                errors.add(new RuleError(origin, "Bad policy name. Run `dmesg' for more information."));
            }
            return;
        }
        // iptables-restore ignores a policy given for a user chain; so does nthlb.
        String problem = chainNameProblem(name);
        if (problem != null) {
            errors.add(new RuleError(origin, problem));
            return;
        }
        chains.putIfAbsent(name, new ArrayList<>());
    }

    // ---------------------------------------------------------------- commands

    /** One command's words after the program name: finds the table and the command, then runs it. */
    private void runCommand(Origin origin, List<String> words, boolean restore) {
        String table = "filter";
        Integer commandAt = null;
        List<String> rest = new ArrayList<>();
        try {
            for (int i = 0; i < words.size(); i++) {
                String w = words.get(i);
                if (w.equals("-t") || w.equals("--table")) {
                    if (restore) {
                        throw new RuleException("The -t option cannot be used in iptables-restore.");
                    }
                    if (i + 1 >= words.size()) {
                        throw new RuleException("option \"" + w + "\" requires an argument");
                    }
                    table = words.get(++i);
                    continue;
                }
                if (w.startsWith("--table=")) {
                    table = w.substring("--table=".length());
                    continue;
                }
                if (commandAt == null && isCommand(w)) {
                    commandAt = rest.size();
                } else if (isCommand(w)) {
                    throw new RuleException("Can't use " + canonicalCommand(rest.get(commandAt)) + " with "
                            + canonicalCommand(w));
                }
                rest.add(w);
            }
            if (restore) {
                table = "nat";
            }
            if (!table.equals("nat")) {
                if (!Set.of("filter", "mangle", "raw", "security").contains(table)) {
                    throw new RuleException("can't initialize iptables table `" + table
                            + "': Table does not exist (do you need to insmod?)");
                }
                if (skippedOtherTables++ == 0) {
                    firstSkipped = origin;
                }
                return;
            }
            if (commandAt == null) {
                throw new RuleException("no command specified");
            }
            List<String> before = rest.subList(0, commandAt);
            List<String> after = rest.subList(commandAt, rest.size());
            // iptables lets options come before the command (-t nat -s 1.2.3.4 -A X); keep them in order
            // after the chain name, where the rule parser expects them.
            String command = canonicalCommand(after.get(0));
            switch (command) {
                case "-A", "-I" -> {
                    List<String> args = new ArrayList<>(after.subList(1, after.size()));
                    if (args.isEmpty() || args.get(0).startsWith("-") || args.get(0).equals("!")) {
                        throw new RuleException("option \"" + after.get(0) + "\" requires an argument");
                    }
                    String chain = args.remove(0);
                    int position = -1;
                    if (command.equals("-I")) {
                        position = 1;
                        if (!args.isEmpty() && !args.get(0).startsWith("-") && !args.get(0).equals("!")) {
                            String number = args.remove(0);
                            position = parseRuleNumber(number);
                        }
                    }
                    List<String> options = new ArrayList<>(before);
                    options.addAll(args);
                    addRule(origin, command, chain, position, options, restore);
                }
                case "-N" -> {
                    requireOnly(after, before, 2);
                    newChain(after.get(1));
                }
                case "-P" -> {
                    if (after.size() < 3) {
                        throw new RuleException("-P requires a chain and a policy");
                    }
                    requireOnly(after, before, 3);
                    setPolicy(after.get(1), after.get(2));
                }
                default -> throw new RuleException("nthlb: command " + after.get(0)
                        + " is not supported in a rules file (use -A, -I, -N or -P)");
            }
        } catch (RuleException e) {
            errors.add(new RuleError(origin, e.getMessage()));
        }
    }

    private static void requireOnly(List<String> after, List<String> before, int size) {
        if (after.size() < size) {
            throw new RuleException("option \"" + after.get(0) + "\" requires an argument");
        }
        if (after.size() > size) {
            throw new RuleException("Bad argument `" + after.get(size) + "'");
        }
        if (!before.isEmpty()) {
            throw new RuleException("Illegal option `" + before.get(0) + "' with this command");
        }
    }

    /** iptables' command options: a line holds exactly one of them. */
    private static final Set<String> COMMANDS = Set.of("-A", "--append", "-I", "--insert", "-N", "--new-chain",
            "-P", "--policy", "-D", "--delete", "-R", "--replace", "-F", "--flush", "-X", "--delete-chain", "-Z",
            "--zero", "-L", "--list", "-S", "--list-rules", "-E", "--rename-chain", "-C", "--check");

    private static boolean isCommand(String w) {
        return COMMANDS.contains(w);
    }

    private static String canonicalCommand(String w) {
        return switch (w) {
            case "--append" -> "-A";
            case "--insert" -> "-I";
            case "--new-chain" -> "-N";
            case "--policy" -> "-P";
            case "--delete" -> "-D";
            case "--replace" -> "-R";
            case "--flush" -> "-F";
            case "--delete-chain" -> "-X";
            case "--zero" -> "-Z";
            case "--list" -> "-L";
            case "--list-rules" -> "-S";
            case "--rename-chain" -> "-E";
            case "--check" -> "-C";
            default -> w;
        };
    }

    private static int parseRuleNumber(String number) {
        long n = parseUnsigned(number, 10);
        if (n < 1 || n > Integer.MAX_VALUE) {
            throw new RuleException("Invalid rule number `" + number + "'");
        }
        return (int) n;
    }

    private void newChain(String name) {
        String problem = chainNameProblem(name);
        if (problem != null) {
            throw new RuleException(problem);
        }
        if (chains.containsKey(name)) {
            throw new RuleException("Chain already exists.");
        }
        chains.put(name, new ArrayList<>());
    }

    private static String chainNameProblem(String name) {
        if (name.length() > 28) {
            return "chain name `" + name + "' too long (must be under 29 chars)";
        }
        if (name.startsWith("-") || name.startsWith("!")) {
            return "chain name not allowed to start with `" + name.charAt(0) + "'";
        }
        if (knownTarget(name) || name.equals("DROP")) {
            return "chain name may not clash with target name";
        }
        for (int i = 0; i < name.length(); i++) {
            if (Character.isWhitespace(name.charAt(i))) {
                return "Invalid chain name `" + name + "'";
            }
        }
        return null;
    }

    private static boolean knownTarget(String name) {
        return Set.of("ACCEPT", "RETURN", "DNAT", "REDIRECT", "MARK", "MASQUERADE", "SNAT", "LOG")
                .contains(name);
    }

    private void setPolicy(String chain, String policy) {
        if (policy.equals("DROP")) {
            throw new RuleException(DROP_IN_NAT);
        }
        if (!Chain.BUILT_IN.contains(chain)) {
            throw new RuleException("Bad built-in chain name.");
        }
        if (!policy.equals("ACCEPT")) {
            throw new RuleException("Bad policy name. Run `dmesg' for more information.");
        }
        policies.put(chain, policy);
    }

    private void addRule(Origin origin, String command, String chain, int position, List<String> options,
                         boolean restore) {
        // iptables parses the whole rule before it looks the chain up, so option errors come first.
        Rule rule = new RuleReader(origin, chain, options).read();
        List<Rule> rules = chains.get(chain);
        if (rules == null) {
            throw new RuleException("No chain/target/match by that name.");
        }
        if (position > rules.size() + 1) {
            throw new RuleException("Index of insertion too big.");
        }
        checkHooks(rule, command);
        String refused = (command.equals("-A") ? "RULE_APPEND" : "RULE_INSERT")
                + " failed (Too many links): rule in chain " + chain;
        if (restore && jumpsRefused) {
            throw new RuleException(refused);
        }
        if (rule.target() instanceof JumpTarget jump) {
            // The kernel refuses a rule that closes a loop a built-in chain reaches (ELOOP) or makes such a path
            // too long (EMLINK) in the same words.
            if (!jumps.allows(chain, jump.chain())) {
                jumpsRefused = restore;
                throw new RuleException(refused);
            }
            jumps.add(chain, jump.chain());
        }
        if (position < 0) {
            rules.add(rule);
        } else {
            rules.add(position - 1, rule);
        }
    }

    /** Refuses what the kernel refuses at load: -i/-o and targets in built-in chains they cannot run in. */
    private static void checkHooks(Rule rule, String command) {
        String chain = rule.chain();
        if (!Chain.BUILT_IN.contains(chain)) {
            return;
        }
        boolean bad = false;
        if (rule.target() instanceof DnatTarget || rule.target() instanceof RedirectTarget) {
            bad = !(chain.equals("PREROUTING") || chain.equals("OUTPUT"));
        } else if (rule.target() instanceof PassiveTarget p
                && (p.name().equals("SNAT") || p.name().equals("MASQUERADE"))) {
            bad = !(chain.equals("POSTROUTING") || chain.equals("INPUT"));
        }
        if (bad) {
            throw new RuleException((command.equals("-A") ? "RULE_APPEND" : "RULE_INSERT")
                    + " failed (Invalid argument): rule in chain " + chain);
        }
    }

    // ---------------------------------------------------------------- one rule's options

    /** Reads the options of one -A/-I rule, as iptables' command-line parser does, left to right. */
    private final class RuleReader {
        private final Origin origin;
        private final String chain;
        private final List<String> words;
        private int pos;
        /** The value of a {@code --option=value} word, read before the words after it. */
        private String inlineValue;
        private boolean invert;

        private AddressMatch source = AddressMatch.ANY;
        private AddressMatch destination = AddressMatch.ANY;
        private boolean sourceSeen;
        private boolean destinationSeen;
        private InterfaceMatch in;
        private InterfaceMatch out;
        private ProtocolMatch protocol;
        private boolean protocolSeen;
        private final List<MatchBuilder> matches = new ArrayList<>();
        private TargetBuilder target;

        RuleReader(Origin origin, String chain, List<String> words) {
            this.origin = origin;
            this.chain = chain;
            this.words = words;
        }

        Rule read() {
            while (inlineValue != null || pos < words.size()) {
                String w = nextWord();
                if (w.equals("!")) {
                    if (invert) {
                        throw new RuleException("multiple consecutive ! not allowed");
                    }
                    invert = true;
                    continue;
                }
                if (!w.startsWith("-") || w.equals("-")) {
                    throw new RuleException("Bad argument `" + w + "'");
                }
                readOption(w);
            }
            if (invert) {
                throw new RuleException("nothing appropriate following !");
            }
            List<Match> built = new ArrayList<>();
            for (MatchBuilder m : matches) {
                built.add(m.build());
                if (m instanceof PortMatchBuilder ports) {
                    ports.check(protocol);
                }
            }
            Target t = target == null ? null : target.build();
            return new Rule(chain, source, destination, in, out, protocol, built, t, origin);
        }

        private String nextWord() {
            String w = inlineValue;
            if (w == null) {
                return words.get(pos++);
            }
            inlineValue = null;
            return w;
        }

        private String argument(String option) {
            if (inlineValue == null && pos >= words.size()) {
                throw new RuleException("option \"" + option + "\" requires an argument");
            }
            return nextWord();
        }

        private boolean takeInvert() {
            boolean i = invert;
            invert = false;
            return i;
        }

        private void noInvert(String option) {
            if (invert) {
                throw new RuleException("cannot have ! before " + option);
            }
        }

        private void readOption(String w) {
            switch (w) {
                case "-s", "--source", "--src" -> {
                    if (sourceSeen) {
                        throw new RuleException("multiple -s flags not allowed");
                    }
                    sourceSeen = true;
                    boolean inv = takeInvert();
                    source = new AddressMatch(parseNetwork(argument(w)), inv);
                }
                case "-d", "--destination", "--dst" -> {
                    if (destinationSeen) {
                        throw new RuleException("multiple -d flags not allowed");
                    }
                    destinationSeen = true;
                    boolean inv = takeInvert();
                    destination = new AddressMatch(parseNetwork(argument(w)), inv);
                }
                // Packets in OUTPUT and POSTROUTING have no input interface; PREROUTING and INPUT no output.
                case "-i", "--in-interface" -> in = interfaceOption(w, "-i", in, "POSTROUTING", "OUTPUT");
                case "-o", "--out-interface" -> out = interfaceOption(w, "-o", out, "PREROUTING", "INPUT");
                case "-p", "--protocol" -> {
                    if (protocolSeen) {
                        throw new RuleException("multiple -p flags not allowed");
                    }
                    protocolSeen = true;
                    boolean inv = takeInvert();
                    int number = parseProtocol(argument(w));
                    protocol = number == 0 && !inv ? null : new ProtocolMatch(number, inv);
                }
                case "-m", "--match" -> {
                    noInvert("-m");
                    loadMatch(argument(w));
                }
                case "-j", "--jump", "-g", "--goto" -> {
                    noInvert(w);
                    if (target != null) {
                        throw new RuleException("multiple -j flags not allowed");
                    }
                    String name = argument(w);
                    target = loadTarget(name, w.equals("-g") || w.equals("--goto"));
                }
                case "-c", "--set-counters" -> {
                    // Loaded rules start from zero counters in nthlb, as after a kernel reload.
                    argument(w);
                    if (pos < words.size() && !words.get(pos).startsWith("-")) {
                        pos++;
                    }
                }
                case "-f", "--fragment" -> throw new RuleException(
                        "nthlb: -f (fragments) is not supported: the nat table only sees first fragments");
                default -> readModuleOption(w);
            }
        }

        private InterfaceMatch interfaceOption(String w, String flag, InterfaceMatch seen, String notIn,
                                               String norIn) {
            if (seen != null) {
                throw new RuleException("multiple " + flag + " flags not allowed");
            }
            boolean inv = takeInvert();
            String name = argument(w);
            if (name.length() > 15) {
                throw new RuleException("interface name `" + name + "' must be shorter than IFNAMSIZ (15)");
            }
            if (chain.equals(notIn) || chain.equals(norIn)) {
                throw new RuleException("Can't use " + flag + " with " + chain);
            }
            return new InterfaceMatch(name, inv);
        }

        private void readModuleOption(String w) {
            String option = w;
            String inline = null;
            int eq = w.indexOf('=');
            if (w.startsWith("--") && eq > 0) {
                option = w.substring(0, eq);
                inline = w.substring(eq + 1);
                inlineValue = inline;
            }
            if (target != null && target.accepts(option)) {
                target.option(option, this);
                return;
            }
            for (int i = matches.size() - 1; i >= 0; i--) {
                if (matches.get(i).accepts(option)) {
                    matches.get(i).option(option, this);
                    return;
                }
            }
            // iptables loads the protocol's own match (tcp or udp) for an option no loaded module knows.
            // iptables does this for `! -p tcp' too.
            if (protocol != null
                    && (protocol.number() == ProtocolMatch.TCP || protocol.number() == ProtocolMatch.UDP)) {
                MatchBuilder implicit = loadMatch(protocol.number() == ProtocolMatch.TCP ? "tcp" : "udp");
                if (implicit.accepts(option)) {
                    implicit.option(option, this);
                    return;
                }
                matches.remove(implicit);
            }
            if (inline != null) {
                inlineValue = null;
            }
            throw new RuleException("unknown option \"" + option + "\"");
        }

        private MatchBuilder loadMatch(String name) {
            MatchBuilder m = switch (name) {
                case "tcp", "udp" -> new PortMatchBuilder(name);
                case "multiport" -> new MultiportBuilder();
                case "statistic" -> new StatisticBuilder();
                case "comment" -> new CommentBuilder();
                case "mark" -> new MarkBuilder();
                default -> throw new RuleException("Couldn't load match `" + name
                        + "':No such file or directory");
            };
            matches.add(m);
            return m;
        }

        private TargetBuilder loadTarget(String name, boolean goTo) {
            if (name.equals("DROP")) {
                throw new RuleException(DROP_IN_NAT);
            }
            if (goTo && knownTarget(name)) {
                throw new RuleException("Chain '" + name + "' does not exist");
            }
            if (Chain.BUILT_IN.contains(name)) {
                throw new RuleException("RULE_APPEND failed (Operation not supported): rule in chain " + chain);
            }
            return switch (name) {
                case "ACCEPT", "RETURN" -> new FixedTarget(new VerdictTarget(VerdictTarget.Verdict.valueOf(name)));
                case "DNAT" -> new NatTargetBuilder("DNAT", "--to-destination");
                case "SNAT" -> new NatTargetBuilder("SNAT", "--to-source");
                case "REDIRECT" -> new PortsTargetBuilder("REDIRECT");
                case "MASQUERADE" -> new PortsTargetBuilder("MASQUERADE");
                case "MARK" -> new MarkTargetBuilder();
                case "LOG" -> new LogTargetBuilder();
                default -> {
                    if (!chains.containsKey(name)) {
                        throw new RuleException("Chain '" + name + "' does not exist");
                    }
                    yield new FixedTarget(new JumpTarget(name, goTo));
                }
            };
        }

        boolean portProtocol() {
            return protocol != null && !protocol.inverted()
                    && (protocol.number() == ProtocolMatch.TCP || protocol.number() == ProtocolMatch.UDP);
        }
    }

    // ---------------------------------------------------------------- matches

    /** A match being read: which options it takes, and the checks iptables runs when the rule ends. */
    private interface MatchBuilder {
        boolean accepts(String option);

        void option(String option, RuleReader r);

        Match build();
    }

    private static final class PortMatchBuilder implements MatchBuilder {
        private final String name;
        private PortRange sport = PortRange.ALL;
        private PortRange dport = PortRange.ALL;
        private boolean sportInv;
        private boolean dportInv;
        private boolean sportSeen;
        private boolean dportSeen;

        PortMatchBuilder(String name) {
            this.name = name;
        }

        @Override
        public boolean accepts(String o) {
            return Set.of("--sport", "--source-port", "--dport", "--destination-port").contains(o);
        }

        @Override
        public void option(String o, RuleReader r) {
            boolean inv = r.takeInvert();
            String arg = r.argument(o);
            if (o.equals("--sport") || o.equals("--source-port")) {
                if (sportSeen) {
                    throw new RuleException("Only one `--source-port' allowed");
                }
                sportSeen = true;
                sport = parsePortRange(arg, name);
                sportInv = inv;
            } else {
                if (dportSeen) {
                    throw new RuleException("Only one `--destination-port' allowed");
                }
                dportSeen = true;
                dport = parsePortRange(arg, name);
                dportInv = inv;
            }
        }

        @Override
        public Match build() {
            return new PortMatch(name, sport, sportInv, dport, dportInv);
        }

        void check(ProtocolMatch protocol) {
            int want = name.equals("tcp") ? ProtocolMatch.TCP : ProtocolMatch.UDP;
            if (protocol == null || protocol.number() != want) {
                throw new RuleException(name.toUpperCase(Locale.ROOT) + " match requires '-p " + name + "'");
            }
        }
    }

    private static final class MultiportBuilder implements MatchBuilder {
        private MultiportMatch.Direction direction;
        private List<PortRange> ports;
        private boolean inverted;

        @Override
        public boolean accepts(String o) {
            return Set.of("--sports", "--source-ports", "--dports", "--destination-ports", "--ports").contains(o);
        }

        @Override
        public void option(String o, RuleReader r) {
            if (!r.portProtocol()) {
                throw new RuleException("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'");
            }
            MultiportMatch.Direction given = switch (o) {
                case "--sports", "--source-ports" -> MultiportMatch.Direction.SOURCE;
                case "--dports", "--destination-ports" -> MultiportMatch.Direction.DESTINATION;
                default -> MultiportMatch.Direction.EITHER;
            };
            if (direction != null) {
                throw new RuleException("multiport: option \"" + longName(given)
                        + "\" cannot be used together with \"" + longName(direction) + "\".");
            }
            direction = given;
            inverted = r.takeInvert();
            String arg = r.argument(o);
            String protocol = r.protocol.number() == ProtocolMatch.UDP ? "udp" : "tcp";
            ports = new ArrayList<>();
            int slots = 0;
            for (String part : arg.split(",", -1)) {
                PortRange range;
                int colon = part.indexOf(':');
                if (colon >= 0) {
                    // Unlike --dport, multiport wants both ends of a range.
                    int first = parsePort(part.substring(0, colon), protocol);
                    int last = parsePort(part.substring(colon + 1), protocol);
                    if (first > last) {
                        throw new RuleException("invalid portrange specified");
                    }
                    range = new PortRange(first, last);
                    slots += 2;
                } else {
                    range = PortRange.of(parsePort(part, protocol));
                    slots += 1;
                }
                if (slots > 15) {
                    throw new RuleException("too many ports specified");
                }
                ports.add(range);
            }
        }

        private static String longName(MultiportMatch.Direction d) {
            return switch (d) {
                case SOURCE -> "--source-ports";
                case DESTINATION -> "--destination-ports";
                case EITHER -> "--ports";
            };
        }

        @Override
        public Match build() {
            if (direction == null) {
                throw new RuleException("multiport expection an option");
            }
            return new MultiportMatch(direction, ports, inverted);
        }
    }

    private static final class StatisticBuilder implements MatchBuilder {
        private String mode;
        private Long every;
        private Long packet;
        private Double probability;
        private boolean everyInv;
        private boolean probabilityInv;

        @Override
        public boolean accepts(String o) {
            return Set.of("--mode", "--every", "--packet", "--probability").contains(o);
        }

        @Override
        public void option(String o, RuleReader r) {
            boolean inv = r.takeInvert();
            String arg = r.argument(o);
            switch (o) {
                case "--mode" -> {
                    if (inv) {
                        throw new RuleException("statistic: option \"--mode\" cannot be inverted.");
                    }
                    if (!arg.equals("nth") && !arg.equals("random")) {
                        throw new RuleException("Bad mode \"" + arg + "\"");
                    }
                    mode = arg;
                }
                case "--every" -> {
                    if (probability != null) {
                        throw excludes("--every");
                    }
                    long n = parseUnsigned(arg, 0);
                    if (n < 1 || n > 0xFFFFFFFFL) {
                        throw new RuleException("statistic: bad value for option \"--every\", or out of range"
                                + " (1-4294967295).");
                    }
                    every = n;
                    everyInv = inv;
                }
                case "--packet" -> {
                    if (probability != null) {
                        throw excludes("--packet");
                    }
                    if (inv) {
                        throw new RuleException("statistic: option \"--packet\" cannot be inverted.");
                    }
                    long n = parseUnsigned(arg, 0);
                    if (n < 0 || n > 0xFFFFFFFFL) {
                        throw new RuleException("statistic: bad value for option \"--packet\", or out of range"
                                + " (0-4294967295).");
                    }
                    packet = n;
                }
                default -> {
                    if (every != null || packet != null) {
                        throw excludes(every != null ? "--every" : "--packet");
                    }
                    double p;
                    try {
                        p = arg.isBlank() || !arg.strip().equals(arg) ? Double.NaN : Double.parseDouble(arg);
                    } catch (NumberFormatException e) {
                        p = Double.NaN;
                    }
                    if (!(p >= 0 && p <= 1) || arg.endsWith("d") || arg.endsWith("f") || arg.endsWith("D")
                            || arg.endsWith("F")) {
                        throw new RuleException("statistic: bad value for option \"--probability\", or out of"
                                + " range (0-1).");
                    }
                    probability = p;
                    probabilityInv = inv;
                }
            }
        }

        /** iptables names --probability first whichever of the pair came first. */
        private static RuleException excludes(String nthOption) {
            return new RuleException("statistic: option \"--probability\" cannot be used together with \""
                    + nthOption + "\".");
        }

        @Override
        public Match build() {
            boolean nth = "nth".equals(mode);
            if (!nth && probability == null) {
                throw new RuleException("--probability must be specified when using random mode");
            }
            if (nth && every == null && packet == null) {
                throw new RuleException("--every and --packet must be specified when using nth mode");
            }
            if (!nth) {
                // iptables stores round(p * 2^31); the kernel compares 31 random bits against it.
                long threshold = Math.round(probability * 2147483648.0);
                return new RandomMatch(threshold, probabilityInv);
            }
            long n = every == null ? 1 : every;
            long p = packet == null ? 0 : packet;
            if (p > n - 1) {
                throw new RuleException("the --packet p must be 0 <= p <= n-1");
            }
            if (every != null && packet == null) {
                throw new RuleException("statistic: option \"--every\" also requires \"--packet\".");
            }
            if (packet != null && every == null) {
                throw new RuleException("statistic: option \"--packet\" also requires \"--every\".");
            }
            return new NthMatch(n, p, everyInv);
        }
    }

    private static final class CommentBuilder implements MatchBuilder {
        private String text;

        @Override
        public boolean accepts(String o) {
            return o.equals("--comment");
        }

        @Override
        public void option(String o, RuleReader r) {
            r.noInvert("--comment");
            if (text != null) {
                throw new RuleException("comment: option \"--comment\" can only be used once.");
            }
            String arg = r.argument(o);
            // iptables (nf_tables) cuts a longer comment to 255 characters without a word.
            text = arg.length() > 255 ? arg.substring(0, 255) : arg;
        }

        @Override
        public Match build() {
            if (text == null) {
                throw new RuleException("comment: option \"--comment\" must be specified");
            }
            return new CommentMatch(text);
        }
    }

    private static final class MarkBuilder implements MatchBuilder {
        private Long value;
        private long mask = 0xFFFFFFFFL;
        private boolean inverted;

        @Override
        public boolean accepts(String o) {
            return o.equals("--mark");
        }

        @Override
        public void option(String o, RuleReader r) {
            inverted = r.takeInvert();
            String arg = r.argument(o);
            long[] vm = parseValueMask(arg, "mark: bad integer value for option \"--mark\", or out of range.");
            value = vm[0];
            mask = vm[1];
        }

        @Override
        public Match build() {
            if (value == null) {
                throw new RuleException("mark: option \"--mark\" must be specified");
            }
            return new MarkMatch(value, mask, inverted);
        }
    }

    // ---------------------------------------------------------------- targets

    /** A target being read: its options and the checks iptables runs when the rule ends. */
    private abstract static class TargetBuilder {

        boolean accepts(String option) {
            return false;
        }

        void option(String option, RuleReader r) {
            throw new RuleException("unknown option \"" + option + "\"");
        }

        abstract Target build();
    }

    private static final class FixedTarget extends TargetBuilder {
        private final Target target;

        FixedTarget(Target target) {
            this.target = target;
        }

        @Override
        Target build() {
            return target;
        }
    }

    /** DNAT and SNAT: one address range with an optional port range, plus flags. */
    private static final class NatTargetBuilder extends TargetBuilder {
        private final String name;
        private final String toOption;
        private String to;
        private int[] range;
        private PortRange ports;
        private boolean random;
        private boolean randomFully;
        private boolean persistent;

        NatTargetBuilder(String name, String toOption) {
            this.name = name;
            this.toOption = toOption;
        }

        @Override
        boolean accepts(String o) {
            return o.equals(toOption) || o.equals("--random") || o.equals("--persistent")
                    || (name.equals("SNAT") && o.equals("--random-fully"));
        }

        @Override
        void option(String o, RuleReader r) {
            r.noInvert(o);
            switch (o) {
                case "--random" -> random = true;
                case "--random-fully" -> randomFully = true;
                case "--persistent" -> persistent = true;
                default -> {
                    if (to != null) {
                        throw new RuleException(name + ": option \"" + toOption + "\" can only be used once.");
                    }
                    to = r.argument(o);
                    parseTo(to, r);
                }
            }
        }

        private void parseTo(String text, RuleReader r) {
            String addr = text;
            int colon = text.indexOf(':');
            if (colon >= 0) {
                if (!r.portProtocol()) {
                    throw new RuleException("Need TCP, UDP, SCTP or DCCP with port specification");
                }
                addr = text.substring(0, colon);
                ports = parseNatPortRange(text.substring(colon + 1));
            }
            if (addr.isEmpty()) {
                range = new int[] {0, 0};
                return;
            }
            int dash = addr.indexOf('-');
            if (dash < 0) {
                int a = parseAddress(addr);
                range = new int[] {a, a};
            } else {
                range = new int[] {parseAddress(addr.substring(0, dash)), parseAddress(addr.substring(dash + 1))};
            }
        }

        @Override
        Target build() {
            if (to == null) {
                throw new RuleException(name + ": option \"" + toOption + "\" must be specified");
            }
            if (name.equals("DNAT")) {
                return new DnatTarget(range[0], range[1], ports, random, persistent);
            }
            return new SnatTarget(range[0], range[1], ports, random, randomFully, persistent);
        }
    }

    /** REDIRECT and MASQUERADE: an optional port range and flags. */
    private static final class PortsTargetBuilder extends TargetBuilder {
        private final String name;
        private PortRange ports;
        private boolean random;
        private boolean randomFully;

        PortsTargetBuilder(String name) {
            this.name = name;
        }

        @Override
        boolean accepts(String o) {
            return o.equals("--to-ports") || o.equals("--random")
                    || (name.equals("MASQUERADE") && o.equals("--random-fully"));
        }

        @Override
        void option(String o, RuleReader r) {
            r.noInvert(o);
            switch (o) {
                case "--random" -> random = true;
                case "--random-fully" -> randomFully = true;
                default -> {
                    String text = r.argument(o);
                    if (!r.portProtocol()) {
                        throw new RuleException("Need TCP, UDP, SCTP or DCCP with port specification");
                    }
                    ports = parseNatPortRange(text);
                }
            }
        }

        @Override
        Target build() {
            if (name.equals("REDIRECT")) {
                return new RedirectTarget(ports, random);
            }
            return new MasqueradeTarget(ports, random, randomFully);
        }
    }

    private static final class MarkTargetBuilder extends TargetBuilder {
        private Long value;
        private long mask;
        private String given;

        @Override
        boolean accepts(String o) {
            return Set.of("--set-mark", "--set-xmark", "--or-mark", "--and-mark", "--xor-mark").contains(o);
        }

        @Override
        void option(String o, RuleReader r) {
            r.noInvert(o);
            if (given != null) {
                throw new RuleException("MARK: option \"" + o + "\" cannot be used together with \"" + given + "\".");
            }
            given = o;
            String arg = r.argument(o);
            String bad = "MARK: bad integer value for option \"" + o + "\", or out of range.";
            switch (o) {
                case "--set-xmark", "--set-mark" -> {
                    long[] vm = parseValueMask(arg, bad);
                    value = vm[0];
                    // --set-mark v/m zeroes the masked bits then sets v, which is --set-xmark v/m
                    // only when v lies inside m; iptables prints it that way regardless.
                    mask = vm[1];
                }
                default -> {
                    long v = parseUnsigned(arg, 0);
                    if (v < 0 || v > 0xFFFFFFFFL) {
                        throw new RuleException(bad);
                    }
                    switch (o) {
                        case "--or-mark" -> {
                            value = v;
                            mask = v;
                        }
                        case "--and-mark" -> {
                            value = 0L;
                            mask = ~v & 0xFFFFFFFFL;
                        }
                        default -> {
                            value = v;
                            mask = 0;
                        }
                    }
                }
            }
        }

        @Override
        Target build() {
            if (value == null) {
                throw new RuleException("MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required");
            }
            return new MarkTarget(value, mask);
        }
    }

    private static final class LogTargetBuilder extends TargetBuilder {
        private String prefix;
        private Integer level;

        @Override
        boolean accepts(String o) {
            return o.equals("--log-prefix") || o.equals("--log-level");
        }

        @Override
        void option(String o, RuleReader r) {
            r.noInvert(o);
            String arg = r.argument(o);
            if (o.equals("--log-prefix")) {
                // iptables (nf_tables) cuts a longer prefix to 29 characters without a word.
                prefix = arg.length() > 29 ? arg.substring(0, 29) : arg;
            } else {
                List<String> names = List.of("emerg", "alert", "crit", "error", "warning", "notice", "info", "debug");
                int idx = names.indexOf(arg.toLowerCase(Locale.ROOT));
                if (arg.equalsIgnoreCase("panic")) {
                    idx = 0;
                } else if (arg.equalsIgnoreCase("err")) {
                    idx = 3;
                } else if (arg.equalsIgnoreCase("warn")) {
                    idx = 4;
                }
                if (idx < 0) {
                    long n = parseUnsigned(arg, 10);
                    if (n < 0 || n > 7) {
                        throw new RuleException("log level \"" + arg + "\" unknown");
                    }
                    idx = (int) n;
                }
                level = idx;
            }
        }

        @Override
        Target build() {
            return new LogTarget(prefix, level == null ? LogTarget.DEFAULT_LEVEL : level);
        }
    }

    // ---------------------------------------------------------------- values

    static String natRangeText(int first, int last, PortRange ports) {
        StringBuilder sb = new StringBuilder();
        if (first != 0 || last != 0) {
            sb.append(Cidr.formatAddress(first));
            if (first != last) {
                sb.append('-').append(Cidr.formatAddress(last));
            }
        }
        if (ports != null) {
            sb.append(':').append(portRangeText(ports, "-"));
        }
        return sb.toString();
    }

    static String portRangeText(PortRange range, String separator) {
        return range.isSingle() ? Integer.toString(range.first()) : range.first() + separator + range.last();
    }

    /** Parses a dotted quad strictly (four decimal parts, each 0-255), or throws iptables' message. */
    static int parseAddress(String text) {
        Integer a = dottedQuad(text);
        if (a == null) {
            throw new RuleException("Bad IP address \"" + text + "\"");
        }
        return a;
    }

    private static Integer dottedQuad(String text) {
        // iptables reads "10.0.0" as 10.0.0.0: missing parts at the end are zero.
        String[] parts = text.split("\\.", -1);
        if (parts.length > 4) {
            return null;
        }
        int a = 0;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')) {
                return null;
            }
            int v = Integer.parseInt(p);
            if (v > 255) {
                return null;
            }
            a = (a << 8) | v;
        }
        return a << (8 * (4 - parts.length));
    }

    /** {@code -s}/{@code -d}: ADDR, ADDR/LEN or ADDR/MASK; hostnames are refused, nthlb does no DNS. */
    static Cidr parseNetwork(String text) {
        String addr = text;
        int prefix = 32;
        int slash = text.indexOf('/');
        if (slash >= 0) {
            addr = text.substring(0, slash);
            String mask = text.substring(slash + 1);
            if (mask.contains(".")) {
                Integer m = dottedQuad(mask);
                if (m == null) {
                    throw new RuleException("invalid mask `" + mask + "' specified");
                }
                int len = Integer.bitCount(m);
                if (Cidr.mask(len) != m) {
                    throw new RuleException("nthlb: non-contiguous mask `" + mask + "' is not supported");
                }
                prefix = len;
            } else {
                long len = parseUnsigned(mask, 10);
                if (len < 0 || len > 32) {
                    throw new RuleException("invalid mask `" + mask + "' specified");
                }
                prefix = (int) len;
            }
        }
        Integer a = dottedQuad(addr);
        if (a == null) {
            throw new RuleException("host/network `" + addr + "' not found");
        }
        return new Cidr(a, prefix);
    }

    /**
     * Protocol names iptables knows, from /etc/protocols (iptables reads that file; nthlb carries the common
     * ones so that it prints {@code -p 47} as {@code -p gre} without it).
     */
    static final Map<String, Integer> PROTOCOLS = Map.ofEntries(Map.entry("all", 0), Map.entry("icmp", 1),
            Map.entry("igmp", 2), Map.entry("tcp", ProtocolMatch.TCP), Map.entry("udp", ProtocolMatch.UDP),
            Map.entry("dccp", 33), Map.entry("ipv6", 41), Map.entry("gre", 47), Map.entry("esp", 50),
            Map.entry("ah", 51), Map.entry("ipv6-icmp", 58), Map.entry("ospf", 89), Map.entry("ipip", 94),
            Map.entry("sctp", 132), Map.entry("udplite", 136));

    static int parseProtocol(String text) {
        Integer known = PROTOCOLS.get(text.toLowerCase(Locale.ROOT));
        if (known != null) {
            return known;
        }
        long n = parseUnsigned(text, 10);
        if (n < 0 || n > 255) {
            throw new RuleException("unknown protocol \"" + text + "\" specified");
        }
        return (int) n;
    }

    /** A port or service name, for --sport/--dport and multiport. */
    static int parsePort(String text, String protocol) {
        Integer known = (protocol.equals("udp") ? UDP_SERVICES : TCP_SERVICES).get(text);
        if (known != null) {
            return known;
        }
        long n = parseUnsigned(text, 10);
        if (n < 0 || n > 65535) {
            throw new RuleException("invalid port/service `" + text + "' specified");
        }
        return (int) n;
    }

    /** {@code --dport} values: P, A:B, :B, A: (and A-B, which no iptables prints but some accept). */
    static PortRange parsePortRange(String text, String protocol) {
        int colon = text.indexOf(':');
        if (colon < 0) {
            return PortRange.of(parsePort(text, protocol));
        }
        int first = colon == 0 ? 0 : parsePort(text.substring(0, colon), protocol);
        int last = colon == text.length() - 1 ? 65535 : parsePort(text.substring(colon + 1), protocol);
        if (first > last) {
            throw new RuleException("invalid portrange (min > max)");
        }
        return new PortRange(first, last);
    }

    /** P or P1-P2 after a NAT target's colon or {@code --to-ports}. */
    private static PortRange parseNatPortRange(String text) {
        int dash = text.indexOf('-');
        if (dash < 0) {
            return PortRange.of(parseNatPort(text));
        }
        int first = parseNatPort(text.substring(0, dash));
        int last = parseNatPort(text.substring(dash + 1));
        if (last < first) {
            throw new RuleException("Port range `" + text.substring(dash + 1) + "' funky");
        }
        return new PortRange(first, last);
    }

    private static int parseNatPort(String text) {
        long n = parseUnsigned(text, 10);
        if (n < 0 || n > 65535) {
            throw new RuleException("Port `" + text + "' not valid");
        }
        return (int) n;
    }

    /** VALUE[/MASK] as strtoul with base 0 reads it (0x hex, leading 0 octal), each within 32 bits. */
    static long[] parseValueMask(String text, String bad) {
        int slash = text.indexOf('/');
        String v = slash < 0 ? text : text.substring(0, slash);
        long value = parseUnsigned(v, 0);
        long mask = 0xFFFFFFFFL;
        if (slash >= 0) {
            mask = parseUnsigned(text.substring(slash + 1), 0);
        }
        if (value < 0 || value > 0xFFFFFFFFL || mask < 0 || mask > 0xFFFFFFFFL) {
            throw new RuleException(bad);
        }
        return new long[] {value, mask};
    }

    /** Parses a non-negative integer in {@code base} (0 means C's auto-detect), or gives -1 for anything else. */
    static long parseUnsigned(String text, int base) {
        if (text.isEmpty() || text.length() > 24) {
            return -1;
        }
        int radix = base;
        String digits = text;
        if (base == 0) {
            if (text.startsWith("0x") || text.startsWith("0X")) {
                radix = 16;
                digits = text.substring(2);
            } else if (text.length() > 1 && text.startsWith("0")) {
                radix = 8;
                digits = text.substring(1);
            } else {
                radix = 10;
            }
        }
        if (digits.isEmpty()) {
            return -1;
        }
        for (int i = 0; i < digits.length(); i++) {
            if (Character.digit(digits.charAt(i), radix) < 0) {
                return -1;
            }
        }
        BigInteger value = new BigInteger(digits, radix);
        return value.bitLength() > 62 ? -1 : value.longValue();
    }

    /** An error in iptables' words, raised deep in option parsing and caught once per line. */
    static final class RuleException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        RuleException(String message) {
            super(message, null, false, false);
        }
    }
}
