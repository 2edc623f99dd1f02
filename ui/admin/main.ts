import { mount } from 'svelte';
import Console from './Console.svelte';
import '../src/app.css';
import './console.css';

const target = document.getElementById('app');
if (!target) {
  throw new Error('Ferry admin console: the #app element is missing from index.html');
}

export default mount(Console, { target });
