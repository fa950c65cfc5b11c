package io.nthlb.admin;

import io.nthlb.balancer.ReloadOutcome;

/** Rereads the rules file of a running nthlb and applies it, or leaves everything as it was. */
@FunctionalInterface
public interface ReloadAction {

    /** Never throws for anything a user can cause; the outcome says what happened. */
    ReloadOutcome reload();
}
