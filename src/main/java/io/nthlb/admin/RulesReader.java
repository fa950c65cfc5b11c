package io.nthlb.admin;

import io.nthlb.rules.RuleError;
import io.nthlb.rules.Ruleset;
import java.nio.file.Path;
import java.util.List;

/** Reads a rules file for a reload: the ruleset, or what is wrong with the file. */
@FunctionalInterface
public interface RulesReader {

    /** A ruleset, or the errors ({@code ruleset} is then {@code null}). */
    record Result(Ruleset ruleset, List<RuleError> errors) {
        public Result {
            errors = List.copyOf(errors);
        }
    }

    /** Never throws for anything wrong with the file (missing, unreadable, invalid): that is an error. */
    Result read(Path file);
}
