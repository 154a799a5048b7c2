// vite empties dist/ on build; the Go binary embeds frontend/dist, so the committed
// placeholder must survive or a fresh clone stops compiling.
import { writeFileSync, mkdirSync } from 'node:fs';
mkdirSync(new URL('../dist/', import.meta.url), { recursive: true });
writeFileSync(new URL('../dist/.gitkeep', import.meta.url), '');
