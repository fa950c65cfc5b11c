package io.nthlb.rules;

import java.util.List;

/**
 * {@code -m recent}: a named list of recently seen addresses, one timestamp ring per address, that one rule
 * adds to ({@code --set}) and another tests ({@code --rcheck}, {@code --update}) or clears ({@code --remove}).
 * kube-proxy's ClientIP session affinity is built from it.
 *
 * @param command         what the match does with the list
 * @param inverted        {@code !} before the command: the answer is negated, the list changes the same
 * @param seconds         {@code --seconds}: only stamps this recent count, 0 for any
 * @param reap            {@code --reap}: drop the oldest entry of the list when it is older than {@code seconds}
 * @param hitCount        {@code --hitcount}: at least this many stamps, 0 for one
 * @param name            {@code --name}, {@code DEFAULT} when absent
 * @param mask            {@code --mask}, applied to the address before it is looked up
 * @param destinationSide {@code --rdest}: the list holds destination addresses, not sources ({@code --rsource})
 */
public record RecentMatch(Command command, boolean inverted, long seconds, boolean reap, long hitCount, String name,
                          int mask, boolean destinationSide) implements Match {

    /** The four things {@code -m recent} can do, in the order iptables prints and checks them. */
    public enum Command {
        SET("--set"), CHECK("--rcheck"), UPDATE("--update"), REMOVE("--remove");

        final String option;

        Command(String option) {
            this.option = option;
        }
    }

    /** The options as {@code iptables -S} prints them, with a leading space. */
    String options() {
        StringBuilder sb = new StringBuilder(" -m recent").append(inverted ? " ! " : " ").append(command.option);
        if (seconds != 0) {
            // iptables prints the unsigned values with %d, here and in -L.
            sb.append(" --seconds ").append((int) seconds);
        }
        if (reap) {
            sb.append(" --reap");
        }
        if (hitCount != 0) {
            sb.append(" --hitcount ").append((int) hitCount);
        }
        return sb.append(" --name ").append(name).append(" --mask ").append(Cidr.formatAddress(mask))
                .append(destinationSide ? " --rdest" : " --rsource").toString();
    }

    /** The words {@code iptables -L} prints, with a leading space. */
    String description() {
        StringBuilder sb = new StringBuilder(inverted ? " ! recent: " : " recent: ").append(command.name());
        if (seconds != 0) {
            sb.append(" seconds: ").append((int) seconds);
        }
        if (reap) {
            sb.append(" reap");
        }
        if (hitCount != 0) {
            sb.append(" hit_count: ").append((int) hitCount);
        }
        return sb.append(" name: ").append(name).append(destinationSide ? " side: dest" : " side: source")
                .append(" mask: ").append(Cidr.formatAddress(mask)).toString();
    }

    /** Reads the options as iptables 1.8.9 does, with its messages; the kernel's load-time checks included. */
    static final class Reader implements MatchBuilder {
        /** {@code XT_RECENT_NAME_LEN}: iptables keeps at most one character less. */
        private static final int NAME_LENGTH = 200;
        /** {@code XT_RECENT_MAX_NSTAMPS} in Linux 6.11 and later; a larger hit count is refused at load. */
        private static final long MAX_STAMPS = 65536;
        private static final List<String> FLAGS = List.of("--set", "--rcheck", "--update", "--remove", "--reap",
                "--rttl", "--rsource", "--rdest");

        private final boolean[] commands = new boolean[Command.values().length];
        private boolean inverted;
        private Long seconds;
        private boolean reap;
        private Long hitCount;
        private String name;
        private Integer mask;
        private boolean destinationSide;

        @Override
        public boolean accepts(String option) {
            return FLAGS.contains(option) || takesArgument(option);
        }

        private static boolean takesArgument(String option) {
            return switch (option) {
                case "--seconds", "--hitcount", "--name", "--mask" -> true;
                default -> false;
            };
        }

        @Override
        public void option(String option, RuleReader r) {
            boolean inverted = r.takeInvert();
            String argument = takesArgument(option) ? r.argument(option) : null;
            for (Command c : Command.values()) {
                if (c.option.equals(option)) {
                    if (commands[c.ordinal()]) {
                        throw once(option);
                    }
                    commands[c.ordinal()] = true;
                    this.inverted |= inverted;
                    return;
                }
            }
            if (inverted) {
                throw new RuleException("recent: option \"" + option + "\" cannot be inverted.");
            }
            switch (option) {
                case "--seconds" -> {
                    if (seconds != null) {
                        throw once(option);
                    }
                    seconds = number(option, argument, 1);
                }
                case "--hitcount" -> {
                    if (hitCount != null) {
                        throw once(option);
                    }
                    hitCount = number(option, argument, 0);
                }
                case "--name" -> {
                    if (name != null) {
                        throw once(option);
                    }
                    name = argument.length() >= NAME_LENGTH ? argument.substring(0, NAME_LENGTH - 1) : argument;
                }
                case "--mask" -> {
                    if (mask != null) {
                        throw once(option);
                    }
                    try {
                        mask = OptionValues.parseAddress(argument);
                    } catch (RuleException e) {
                        throw new RuleException("getaddrinfo: Name or service not known");
                    }
                }
                case "--reap" -> reap = true;
                case "--rsource" -> destinationSide = false;
                case "--rdest" -> destinationSide = true;
                default -> throw new RuleException(
                        "nthlb: recent --rttl is not supported: nthlb cannot see a packet's TTL");
            }
        }

        private static RuleException once(String option) {
            return new RuleException("recent: option \"" + option + "\" can only be used once.");
        }

        private static long number(String option, String text, long min) {
            long n = OptionValues.parseUnsigned(text, 0);
            if (n < min || n > 0xFFFFFFFFL) {
                throw new RuleException("recent: bad value for option \"" + option
                        + "\", or out of range (" + min + "-4294967295).");
            }
            return n;
        }

        @Override
        public Match build() {
            Command command = null;
            for (Command c : Command.values()) {
                if (commands[c.ordinal()]) {
                    if (command != null) {
                        throw new RuleException("recent: option \"" + command.option
                                + "\" cannot be used together with \"" + c.option + "\".");
                    }
                    command = c;
                }
            }
            if (command == null) {
                throw new RuleException("recent: you must specify one of `--set', `--rcheck' `--update'"
                        + " or `--remove'");
            }
            if (reap && seconds == null) {
                throw new RuleException("recent: option \"--reap\" also requires \"--seconds\".");
            }
            long s = seconds == null ? 0 : seconds;
            long hits = hitCount == null ? 0 : hitCount;
            String list = name == null ? "DEFAULT" : name;
            // recent_mt_check: --set and --remove take no modifiers; the name must make a /proc file name.
            boolean modified = s != 0 || hits != 0 || reap;
            if ((command == Command.SET || command == Command.REMOVE) && modified || hits >= MAX_STAMPS
                    || list.isEmpty() || list.equals(".") || list.equals("..") || list.contains("/")) {
                throw new InvalidRuleException();
            }
            return new RecentMatch(command, inverted, s, reap, hits, list, mask == null ? -1 : mask, destinationSide);
        }
    }
}
