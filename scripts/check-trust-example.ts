// Checks deploy/trust.example.yaml: it must load as a trust config (the same checks as at start)
// and its reviewBy date must be at least 30 days away, so the example never teaches an expired
// security.txt. Run by .ci/run; move reviewBy forward when it fails.
import path from 'node:path';
import { loadTrustConfig } from '../src/trust/trust-config.js';

const MIN_DAYS_LEFT = 30;
const file = path.resolve(import.meta.dirname, '../deploy/trust.example.yaml');
const loaded = loadTrustConfig(file);
if ('problems' in loaded) {
  console.error(loaded.problems.join('\n'));
  process.exit(1);
}
const daysLeft = (Date.parse(`${loaded.config.reviewBy}T23:59:59Z`) - Date.now()) / 86_400_000;
if (daysLeft < MIN_DAYS_LEFT) {
  console.error(`${path.relative(process.cwd(), file)}: reviewBy ${loaded.config.reviewBy} is ${Math.floor(daysLeft)} days away (at least ${MIN_DAYS_LEFT} needed); move it forward`);
  process.exit(1);
}
console.log(`trust example: valid, reviewBy ${loaded.config.reviewBy} is ${Math.floor(daysLeft)} days away`);
