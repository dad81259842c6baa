// An item's history: the commits whose Tend-Item trailer names it, oldest first, as `tend show`
// prints them. Commands read it here rather than asking git themselves.
export { itemHistory, type LogEntry } from './git.js';
