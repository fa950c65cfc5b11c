package io.nthlb.cli;

import io.nthlb.rules.Ruleset;
import java.nio.file.Path;
import java.util.List;

/**
 * Where the commands that take a rules file get its rules: the one place that calls the rules workstream's
 * loader, so that the commands need not know its shape.
 *
 * <p>The parser (io.nthlb.rules) is not on main yet; until it is, every file is answered with one error
 * saying so, and simulate exits 2 like it does for any file it cannot use.
 */
final class RulesFiles {

    /** A file's rules, or its errors as {@code FILE:LINE: message} (then {@code rules} is {@code null}). */
    record Loaded(Ruleset rules, List<String> errors) {
        Loaded {
            errors = List.copyOf(errors);
        }
    }

    private RulesFiles() {
    }

    static Loaded load(Path file) {
        return new Loaded(null, List.of(file + ": cannot read rules files yet: the iptables parser (io.nthlb.rules)"
                + " is not in this build"));
    }
}
