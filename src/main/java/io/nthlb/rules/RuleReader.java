package io.nthlb.rules;

import static io.nthlb.rules.OptionValues.parseNetwork;
import static io.nthlb.rules.OptionValues.parseProtocol;

import io.nthlb.rules.MatchBuilder.CommentBuilder;
import io.nthlb.rules.MatchBuilder.MarkBuilder;
import io.nthlb.rules.MatchBuilder.MultiportBuilder;
import io.nthlb.rules.MatchBuilder.PortMatchBuilder;
import io.nthlb.rules.MatchBuilder.StatisticBuilder;
import io.nthlb.rules.TargetBuilder.FixedTarget;
import io.nthlb.rules.TargetBuilder.LogTargetBuilder;
import io.nthlb.rules.TargetBuilder.MarkTargetBuilder;
import io.nthlb.rules.TargetBuilder.NatTargetBuilder;
import io.nthlb.rules.TargetBuilder.PortsTargetBuilder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Reads the options of one -A/-I rule, as iptables' command-line parser does, left to right. */
final class RuleReader {
    private final Origin origin;
    private final String chain;
    private final List<String> words;
    /** The chains that exist when the rule is read, for its jump. */
    private final Set<String> chains;
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
    ProtocolMatch protocol;
    private boolean protocolSeen;
    private final List<MatchBuilder> matches = new ArrayList<>();
    /** Per option: the index of the match that took it last (-1 for none) and how many were loaded then. */
    private final Map<String, int[]> takers = new HashMap<>();
    private TargetBuilder target;

    RuleReader(Origin origin, String chain, List<String> words, Set<String> chains) {
        this.origin = origin;
        this.chain = chain;
        this.words = words;
        this.chains = chains;
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

    String argument(String option) {
        if (inlineValue == null && pos >= words.size()) {
            throw new RuleException("option \"" + option + "\" requires an argument");
        }
        return nextWord();
    }

    boolean takeInvert() {
        boolean i = invert;
        invert = false;
        return i;
    }

    void noInvert(String option) {
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
        MatchBuilder taker = lastMatchTaking(option);
        if (taker != null) {
            taker.option(option, this);
            return;
        }
        // iptables loads the protocol's own match (tcp, udp or sctp) for an option no loaded module knows.
        // iptables does this for `! -p tcp' too.
        String implicitName = protocol == null ? null : PORT_MODULES.get(protocol.number());
        if (implicitName != null) {
            MatchBuilder implicit = loadMatch(implicitName);
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

    /**
     * The match loaded last that takes {@code option}, or {@code null}. Each option remembers its answer and
     * how many matches there were, so a rule of many matches and options is read in linear time.
     */
    private MatchBuilder lastMatchTaking(String option) {
        int[] known = takers.get(option);
        int from = known == null ? 0 : known[1];
        int taker = known == null ? -1 : known[0];
        for (int i = matches.size() - 1; i >= from; i--) {
            if (matches.get(i).accepts(option)) {
                taker = i;
                break;
            }
        }
        takers.put(option, new int[] {taker, matches.size()});
        return taker < 0 ? null : matches.get(taker);
    }

    private MatchBuilder loadMatch(String name) {
        MatchBuilder m = switch (name) {
            case "tcp", "udp", "sctp" -> new PortMatchBuilder(name);
            case "multiport" -> new MultiportBuilder();
            case "statistic" -> new StatisticBuilder();
            case "comment" -> new CommentBuilder();
            case "mark" -> new MarkBuilder();
            case "addrtype" -> new AddrTypeMatch.Reader(chain);
            case "recent" -> new RecentMatch.Reader();
            default -> throw new RuleException(IptablesModules.MATCHES.contains(name)
                    ? "nthlb: match `" + name + "' is not supported in the nat table (" + IptablesModules.SUPPORTED
                            + ")"
                    : "Couldn't load match `" + name + "':No such file or directory");
        };
        matches.add(m);
        return m;
    }

    private TargetBuilder loadTarget(String name, boolean goTo) {
        if (name.equals("DROP")) {
            throw new RuleException(RulesParser.DROP_IN_NAT);
        }
        if (goTo && RulesParser.knownTarget(name)) {
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
                if (!chains.contains(name) && IptablesModules.TARGETS.contains(name)) {
                    throw new RuleException("nthlb: target `" + name + "' is not supported in the nat table ("
                            + IptablesModules.SUPPORTED + ")");
                }
                if (!chains.contains(name)) {
                    throw new RuleException("Chain '" + name + "' does not exist");
                }
                yield new FixedTarget(new JumpTarget(name, goTo));
            }
        };
    }

    boolean portProtocol() {
        return protocol != null && !protocol.inverted() && PORT_MODULES.containsKey(protocol.number());
    }

    /** The protocols whose port match ({@code -m tcp}, {@code udp}, {@code sctp}) a port option loads. */
    private static final Map<Integer, String> PORT_MODULES = Map.of(ProtocolMatch.TCP, "tcp", ProtocolMatch.UDP, "udp",
            ProtocolMatch.SCTP, "sctp");
}
