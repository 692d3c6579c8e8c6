// aws-local-stepfunctions 3 targets Node 22; Node 20 lacks Promise.withResolvers.
import '../../lib/local/engine/polyfills';

// The tests run on whatever Node the machine has; the SDK's end-of-support notice is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
