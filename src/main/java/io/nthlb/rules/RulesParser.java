package io.nthlb.rules;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
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
    static final String DROP_IN_NAT =
            "The \"nat\" table is not intended for filtering, the use of DROP is therefore inhibited.";

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
        return new LoadResult(snapshot(), errors, warnings);
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
        long n = OptionValues.parseUnsigned(number, 10);
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

    static boolean knownTarget(String name) {
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
        Rule rule;
        try {
            rule = new RuleReader(origin, chain, options, chains.keySet()).read();
        } catch (InvalidRuleException e) {
            rule = null;
        }
        List<Rule> rules = chains.get(chain);
        if (rules == null) {
            throw new RuleException("No chain/target/match by that name.");
        }
        if (position > rules.size() + 1) {
            throw new RuleException("Index of insertion too big.");
        }
        if (rule == null) {
            throw new RuleException((command.equals("-A") ? "RULE_APPEND" : "RULE_INSERT")
                    + " failed (Invalid argument): rule in chain " + chain);
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
}
