package io.nthlb.rules;

import java.util.List;

/**
 * What loading a rules file gives: the table (holding every rule that parsed), every error iptables
 * would have refused, and warnings about things nthlb reads but treats differently.
 */
public record LoadResult(Ruleset ruleset, List<RuleError> errors, List<RuleError> warnings) {
    public LoadResult {
        errors = List.copyOf(errors);
        warnings = List.copyOf(warnings);
    }

    /** Whether the file loaded without a single error (warnings do not count). */
    public boolean ok() {
        return errors.isEmpty();
    }
}
