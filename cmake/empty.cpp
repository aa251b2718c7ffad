// placeholder for modules without sources yet
