'use strict';
'require baseclass';
'require rpc';

// The calls the views make to the trustjoin ubus object, declared in one
// place with one rule for failures. rpcd can answer an exec plugin's call
// either with data (status 0) or with an error status and nothing else:
// the plugin gives TR-069 agents and other callers on the bus the status,
// so they report a fault, but through uhttpd (calls carrying a session, as
// these) a failed call answers {"error": "..."}, since a status would
// leave the householder without the reason (src/internal/rpcd). declare
// turns that answer into a rejection, for every view. (A failed
// onboarding's progress also carries "error", beside its state: that is an
// answer, not a failed call.)

function failure(reply) {
	return reply != null && typeof(reply) == 'object' && typeof(reply.error) == 'string' &&
		Object.keys(reply).length == 1;
}

return baseclass.extend({
	// declare(method, params) is rpc.declare for a trustjoin method: it
	// rejects on a ubus error status (LuCI's message) and on the plugin's
	// failure answer (its message).
	declare: function(method, params) {
		return rpc.declare({
			object: 'trustjoin',
			method: method,
			params: params || [],
			reject: true,
			filter: function(reply) {
				if (failure(reply))
					throw new Error(reply.error || _('Unknown error'));
				return reply;
			}
		});
	}
});
